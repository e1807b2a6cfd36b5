//! `mss calc`: build the request, ask the rules crate, render text or JSON.

use std::io::Write;
use std::process::ExitCode;

use mss_rules::calc::{self, CalcReport, CalcRequest, FamilyNumbers, Frame, ReverseFamily, Step};
use mss_rules::encap::{LayerUse, catalogue};
use mss_rules::linux::LinuxTunables;
use mss_rules::{IpVersion, Mss};
use serde_json::{Value, json};

use crate::Failure;
use crate::cli::CalcArgs;
use crate::render::{frame_table, wrap};

pub(crate) fn run(args: &CalcArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    if args.list_encaps {
        list_encaps(args.json, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let families = match (args.ipv4, args.ipv6) {
        (true, false) => vec![IpVersion::V4],
        (false, true) => vec![IpVersion::V6],
        _ => IpVersion::ALL.to_vec(),
    };
    let mut request = CalcRequest {
        link_mtu: args.mtu.unwrap_or(IpVersion::V4.min_mtu()),
        encaps: args.encap.clone(),
        options: args.options,
        ipv4_option_bytes: args.ip_options,
        ipv6_ext_bytes: args.ipv6_ext,
        families,
        tunables: LinuxTunables::default(),
    };
    if let Some(mss) = args.mss {
        let answer =
            calc::reverse(&request, Mss(mss)).map_err(|e| Failure::Input(e.to_string()))?;
        let rooms: Vec<Room> = answer
            .iter()
            .map(|family| Room {
                version: family.version,
                ip_mtu: family.ip_mtu,
                mss: u32::from(mss),
                tcp_option_bytes: request.options.total_bytes(),
                ip_option_bytes: ip_option_bytes(&request, family.version),
                effective_mss: family.effective_mss,
            })
            .collect();
        check_room_for_data(&rooms, &request)?;
        if args.json {
            print_json(out, &reverse_json(&request, mss, &answer))?;
        } else {
            reverse_text(out, &request, mss, &answer)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(mtu) = args.mtu {
        request.link_mtu = mtu;
    }
    let report = calc::calculate(&request).map_err(|e| Failure::Input(e.to_string()))?;
    let rooms: Vec<Room> = report
        .families
        .iter()
        .filter_map(|family| {
            let n = family.outcome.as_ref().ok()?;
            Some(Room {
                version: family.version,
                ip_mtu: n.ip_mtu,
                mss: u32::from(n.advertised_mss.get()),
                tcp_option_bytes: n.option_bytes,
                ip_option_bytes: n.ip_option_bytes,
                effective_mss: n.effective_mss,
            })
        })
        .collect();
    check_room_for_data(&rooms, &request)?;
    if args.json {
        print_json(out, &report_json(&report))?;
    } else {
        report_text(out, &report, args.explain)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One family's answer, as far as room for data goes.
struct Room {
    version: IpVersion,
    /// The IP MTU the answer is for.
    ip_mtu: u32,
    /// The MSS option value the data and its per-segment headers share.
    mss: u32,
    tcp_option_bytes: u32,
    ip_option_bytes: u32,
    effective_mss: u32,
}

/// Refuses header bytes that leave a segment no room for data: an effective MSS
/// of 0 is not an answer but a mistake in the request. The message gives the
/// range that fits.
fn check_room_for_data(rooms: &[Room], request: &CalcRequest) -> Result<(), Failure> {
    let Some(n) = rooms.iter().find(|r| r.effective_mss == 0) else {
        return Ok(());
    };
    let version = n.version;
    // What the IP options or extension headers may take: all but one byte of the
    // MSS after the TCP options, in their unit.
    let room = n.mss.saturating_sub(n.tcp_option_bytes);
    let (flag, what, unit, cap) = match version {
        IpVersion::V4 => ("--ip-options", "IPv4 options", 4, 40),
        IpVersion::V6 => ("--ipv6-ext", "IPv6 extension headers", 8, u32::MAX),
    };
    let tcp = if n.tcp_option_bytes > 0 {
        format!(" and {} bytes of TCP options", n.tcp_option_bytes)
    } else {
        String::new()
    };
    let message = if n.ip_option_bytes > 0 {
        let most = (room.saturating_sub(1) / unit * unit).min(cap);
        format!(
            "{flag} {}: {what} of that size leave no room for data in a {}-byte \
             {version} packet (with the 20-byte TCP header{tcp}); give 0 to {most} \
             (a multiple of {unit})",
            n.ip_option_bytes, n.ip_mtu
        )
    } else {
        format!(
            "--options {}: {} bytes of TCP options leave no room for data in a \
             {}-byte {version} packet; use fewer options or a larger --mtu",
            request.options, n.tcp_option_bytes, n.ip_mtu
        )
    };
    Err(Failure::Input(message))
}

fn ip_option_bytes(request: &CalcRequest, version: IpVersion) -> u32 {
    match version {
        IpVersion::V4 => request.ipv4_option_bytes,
        IpVersion::V6 => request.ipv6_ext_bytes,
    }
}

fn print_json(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn list_encaps(as_json: bool, out: &mut impl Write) -> std::io::Result<()> {
    if as_json {
        let list: Vec<Value> = catalogue()
            .iter()
            .map(|e| json!({"syntax": e.syntax, "summary": e.summary}))
            .collect();
        return print_json(out, &json!(list));
    }
    writeln!(
        out,
        "Encapsulations for --encap, outermost first, comma-separated:"
    )?;
    for entry in catalogue() {
        writeln!(out, "  {}", entry.syntax)?;
        writeln!(out, "      {}", entry.summary)?;
    }
    writeln!(
        out,
        "\nESP: MODE tunnel (default) or transport; CIPHER aes-gcm (default), aes-gcm12, \
         aes-gcm8,\n  aes-cbc, aes-ctr, chacha20-poly1305, 3des, null; AUTH for non-AEAD \
         ciphers sha1,\n  sha256 (default), sha384, sha512, md5, xcbc; natt adds UDP \
         encapsulation.\nOpenVPN: CIPHER aes-gcm (default), chacha20-poly1305, aes-cbc \
         (AUTH default sha1).\nv6: the tunnel's outer header is IPv6."
    )
}

/// The title, the encapsulations described, and the options on data segments.
fn header_text(out: &mut impl Write, title: &str, request: &CalcRequest) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    for layer in request.encaps.layers() {
        let text = format!("{layer}: {}", layer.describe());
        for line in wrap(&text, "  ", "      ") {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(
        out,
        "TCP options on data segments: {}",
        options_summary(request)
    )
}

fn options_summary(request: &CalcRequest) -> String {
    if request.options.total_bytes() == 0 {
        "none (between Linux hosts: --options ts)".to_string()
    } else {
        format!(
            "{} ({} bytes)",
            request.options,
            request.options.total_bytes()
        )
    }
}

fn report_text(out: &mut impl Write, report: &CalcReport, explain: bool) -> std::io::Result<()> {
    let request = &report.request;
    header_text(out, &format!("Link MTU {}", request.link_mtu), request)?;
    for family in &report.families {
        writeln!(out)?;
        match &family.outcome {
            Err(reason) => {
                for line in wrap(
                    &format!("not possible: {reason}"),
                    &format!("{}  ", family.version),
                    "      ",
                ) {
                    writeln!(out, "{line}")?;
                }
            }
            Ok(numbers) => {
                writeln!(out, "{}", family.version)?;
                family_text(out, request, family.version, numbers)?;
            }
        }
        for note in &family.notes {
            for line in wrap(note, "  note: ", "        ") {
                writeln!(out, "{line}")?;
            }
        }
        if explain {
            steps_text(out, &family.steps)?;
        }
    }
    Ok(())
}

fn row(
    out: &mut impl Write,
    name: &str,
    value: impl std::fmt::Display,
    detail: &str,
) -> std::io::Result<()> {
    let line = format!("  {name:<22} {value:>6}   {detail}");
    writeln!(out, "{}", line.trim_end())
}

fn family_text(
    out: &mut impl Write,
    request: &CalcRequest,
    version: IpVersion,
    n: &FamilyNumbers,
) -> std::io::Result<()> {
    let mut mtu_detail: Vec<String> = vec![request.link_mtu.to_string()];
    for layer in n.layers.iter().filter(|l| !l.frame_only) {
        mtu_detail.push(format!(
            "{} {}",
            layer.outer_mtu - layer.inner_mtu,
            layer.encap
        ));
    }
    let mtu_detail = if mtu_detail.len() > 1 {
        mtu_detail.join(" - ")
    } else {
        "no encapsulation".to_string()
    };
    row(out, "IP MTU for TCP/IP", n.ip_mtu, &mtu_detail)?;
    let advertised_detail = if version == IpVersion::V6 && n.advertised_mss.get() == u16::MAX {
        "\"infinity\": IPv6 jumbogram, use PMTUD (RFC 2675)".to_string()
    } else {
        format!(
            "{} - {} {version} - 20 TCP (RFC 6691)",
            n.ip_mtu.min(version.max_packet()),
            version.header_len()
        )
    };
    row(out, "advertised MSS", n.advertised_mss, &advertised_detail)?;
    let linux_detail = if n.linux_advertised_mss == n.advertised_mss {
        "the same"
    } else {
        "Linux floor or cap, see note"
    };
    row(
        out,
        "Linux advertises",
        n.linux_advertised_mss,
        linux_detail,
    )?;
    let mut deductions: Vec<String> = request
        .options
        .parts()
        .iter()
        .map(|(name, bytes)| format!("{bytes} {name}"))
        .collect();
    if n.ip_option_bytes > 0 {
        let what = match version {
            IpVersion::V4 => "IPv4 options",
            IpVersion::V6 => "IPv6 ext headers",
        };
        deductions.push(format!("{} {what}", n.ip_option_bytes));
    }
    let effective_detail = if deductions.is_empty() {
        "no options on data segments (RFC 9293 3.7.1)".to_string()
    } else {
        format!(
            "{} - {} (RFC 9293 3.7.1)",
            n.advertised_mss,
            deductions.join(" - ")
        )
    };
    row(
        out,
        "effective send MSS",
        n.effective_mss,
        &effective_detail,
    )?;
    if n.linux_effective_mss != n.effective_mss {
        row(out, "Linux sends", n.linux_effective_mss, "see note")?;
    }
    writeln!(out, "  largest frame:")?;
    for line in frame_table(&n.frame.parts, n.frame.on_wire, "    ") {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn steps_text(out: &mut impl Write, steps: &[Step]) -> std::io::Result<()> {
    writeln!(out, "  Step by step:")?;
    for (i, step) in steps.iter().enumerate() {
        let bullet = format!("  {:>2}. ", i + 1);
        let text = format!("{} [{}]", step.text, step.source);
        for line in wrap(&text, &bullet, "      ") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn reverse_text(
    out: &mut impl Write,
    request: &CalcRequest,
    mss: u16,
    answer: &[ReverseFamily],
) -> std::io::Result<()> {
    header_text(out, &format!("MSS option {mss}"), request)?;
    for family in answer {
        let v = family.version;
        writeln!(out)?;
        writeln!(out, "{v}")?;
        row(
            out,
            "IP MTU",
            family.ip_mtu,
            &format!("{mss} + 20 TCP + {} {v} (RFC 6691)", v.header_len()),
        )?;
        if !request.encaps.is_empty() {
            row(
                out,
                "link MTU needed",
                family.link_mtu,
                "under the encapsulations",
            )?;
        }
        row(
            out,
            "effective send MSS",
            family.effective_mss,
            "with the options above",
        )?;
        writeln!(out, "  largest frame:")?;
        for line in frame_table(&family.frame.parts, family.frame.on_wire, "    ") {
            writeln!(out, "{line}")?;
        }
        for note in &family.notes {
            for line in wrap(note, "  note: ", "        ") {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

fn frame_json(frame: &Frame) -> Value {
    let parts: Vec<Value> = frame
        .parts
        .iter()
        .map(|p| json!({"name": p.label, "bytes": p.bytes}))
        .collect();
    json!({"parts": parts, "on_wire": frame.on_wire})
}

fn layer_json(layer: &LayerUse) -> Value {
    json!({
        "name": layer.encap.to_string(),
        "description": layer.encap.describe(),
        "outer_mtu": layer.outer_mtu,
        "inner_mtu": layer.inner_mtu,
        "overhead": layer.outer_mtu - layer.inner_mtu,
        "frame_only": layer.frame_only,
    })
}

fn request_json(request: &CalcRequest) -> Value {
    json!({
        "encap": request.encaps.to_string(),
        "options": request.options.to_string(),
        "tcp_option_bytes": request.options.total_bytes(),
        "ipv4_option_bytes": request.ipv4_option_bytes,
        "ipv6_ext_bytes": request.ipv6_ext_bytes,
    })
}

fn report_json(report: &CalcReport) -> Value {
    let families: Vec<Value> = report
        .families
        .iter()
        .map(|family| {
            let steps: Vec<Value> = family
                .steps
                .iter()
                .map(|s| json!({"text": s.text, "source": s.source}))
                .collect();
            let head = json!({"ip_version": family.version.number()});
            let tail = json!({"notes": family.notes, "explanation": steps});
            let numbers = match &family.outcome {
                Ok(n) => json!({
                    "possible": true,
                    "reason": null,
                    "ip_mtu": n.ip_mtu,
                    "advertised_mss": n.advertised_mss.get(),
                    "linux_advertised_mss": n.linux_advertised_mss.get(),
                    "effective_mss": n.effective_mss,
                    "linux_effective_mss": n.linux_effective_mss,
                    "tcp_option_bytes": n.option_bytes,
                    "ip_option_bytes": n.ip_option_bytes,
                    "layers": n.layers.iter().map(layer_json).collect::<Vec<_>>(),
                    "frame": frame_json(&n.frame),
                }),
                Err(reason) => json!({
                    "possible": false,
                    "reason": reason,
                    "ip_mtu": null,
                    "advertised_mss": null,
                    "linux_advertised_mss": null,
                    "effective_mss": null,
                    "linux_effective_mss": null,
                    "tcp_option_bytes": null,
                    "ip_option_bytes": null,
                    "layers": [],
                    "frame": null,
                }),
            };
            merge(merge(head, numbers), tail)
        })
        .collect();
    json!({
        "command": "calc",
        "link_mtu": report.request.link_mtu,
        "request": request_json(&report.request),
        "families": families,
    })
}

fn reverse_json(request: &CalcRequest, mss: u16, answer: &[ReverseFamily]) -> Value {
    let families: Vec<Value> = answer
        .iter()
        .map(|f| {
            json!({
                "ip_version": f.version.number(),
                "ip_mtu": f.ip_mtu,
                "link_mtu": f.link_mtu,
                "effective_mss": f.effective_mss,
                "frame": frame_json(&f.frame),
                "notes": f.notes,
            })
        })
        .collect();
    json!({
        "command": "calc",
        "mss": mss,
        "request": request_json(request),
        "families": families,
    })
}

/// Merges the keys of `extra` into `base` (both objects).
fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base_map), Value::Object(extra_map)) = (base.as_object_mut(), extra) {
        base_map.extend(extra_map);
    }
    base
}
