//! Compiles the tc program (bpf/clamp.bpf.c) with clang's BPF target when clang
//! and libbpf's headers are there, and sets `cfg(mss_tc_bpf)`; without them the
//! rest of mss builds as before and `mss clamp --tc` says what is missing.
//!
//! Environment: `MSS_BPF_CLANG` names the compiler (default `clang`);
//! `MSS_REQUIRE_BPF=1` makes a failed compile an error (CI sets it), so a broken
//! program cannot slip through as "clang missing".

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mss_tc_bpf)");
    println!("cargo::rerun-if-changed=bpf/clamp.bpf.c");
    println!("cargo::rerun-if-env-changed=MSS_BPF_CLANG");
    println!("cargo::rerun-if-env-changed=MSS_REQUIRE_BPF");
    let required = env::var_os("MSS_REQUIRE_BPF").is_some_and(|v| v == "1");
    let clang = env::var("MSS_BPF_CLANG").unwrap_or_else(|_| "clang".to_string());
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("clamp.bpf.o");
    // linux/bpf.h includes asm/types.h, which Debian keeps under the multiarch
    // directory of the build machine.
    let multiarch = match env::var("HOST").unwrap_or_default().as_str() {
        "aarch64-unknown-linux-gnu" => "aarch64-linux-gnu",
        "riscv64gc-unknown-linux-gnu" => "riscv64-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    let result = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(["-c", "bpf/clamp.bpf.c", "-o"])
        .arg(&out)
        .output();
    let problem = match result {
        Ok(output) if output.status.success() => {
            println!("cargo::rustc-cfg=mss_tc_bpf");
            return;
        }
        Ok(output) => format!(
            "{clang} could not compile bpf/clamp.bpf.c: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => format!("{clang} not found ({e})"),
    };
    if required {
        panic!("MSS_REQUIRE_BPF=1: {problem}");
    }
    println!(
        "cargo::warning=mss clamp --tc is left out: {}; apt-get install clang libbpf-dev and rebuild",
        problem.lines().next().unwrap_or_default()
    );
}
