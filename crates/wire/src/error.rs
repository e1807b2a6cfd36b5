//! Errors: "not enough bytes" is kept apart from "a value that cannot be".

use core::fmt;

/// The protocol layer an error is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The link-layer header (Ethernet, VLAN, MPLS, PPPoE, cooked capture, ...).
    Link,
    /// IPv4 header.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// TCP header.
    Tcp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link-layer header",
            Layer::Ipv4 => "IPv4 header",
            Layer::Ipv6 => "IPv6 header",
            Layer::Ipv6Extension => "IPv6 extension header",
            Layer::Tcp => "TCP header",
        })
    }
}

/// Why bytes could not be viewed as a header. Offsets are relative to the start of
/// the slice given to the view; a caller that knows where that slice sits in a file
/// adds its own base.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The bytes end before the header does.
    Truncated {
        /// The layer.
        layer: Layer,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// A field holds a value the protocol does not allow.
    Malformed {
        /// The layer.
        layer: Layer,
        /// Offset of the offending field.
        offset: usize,
        /// What is wrong, in a few words.
        what: &'static str,
    },
}

impl Error {
    /// The layer the error is about.
    pub fn layer(&self) -> Layer {
        match *self {
            Error::Truncated { layer, .. } | Error::Malformed { layer, .. } => layer,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated {
                layer,
                needed,
                available,
            } => write!(
                f,
                "{layer} truncated: needs {needed} bytes, {available} present"
            ),
            Error::Malformed {
                layer,
                offset,
                what,
            } => write!(f, "{layer} malformed at byte {offset}: {what}"),
        }
    }
}

impl std::error::Error for Error {}
