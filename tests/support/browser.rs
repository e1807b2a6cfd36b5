//! Headless Chromium for the HTML report's tests: load a page from a file:// URL,
//! let its scripts run, and read back the DOM (with the page's own test hook's
//! result) and the console log.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The browser: Debian's `chromium` (`.ci/run` and `scripts/test` install it).
pub(crate) fn chromium() -> PathBuf {
    super::which("chromium")
        .or_else(|| super::which("chromium-browser"))
        .expect("these tests need headless Chromium: apt-get install chromium")
}

/// What the browser showed: the DOM after the page's scripts ran, and its log.
pub(crate) struct Page {
    pub(crate) dom: String,
    pub(crate) log: String,
}

impl Page {
    /// The page's `#test-result`, parsed.
    pub(crate) fn result(&self) -> Value {
        let start = self
            .dom
            .find("<pre id=\"test-result\">")
            .unwrap_or_else(|| panic!("no test result in the DOM:\n{}", self.dom))
            + "<pre id=\"test-result\">".len();
        let end = start + self.dom[start..].find("</pre>").unwrap_or(0);
        let text = self.dom[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("test result ({e}): {text}"))
    }

    /// Console messages (the page writes none: any is an error or a warning).
    pub(crate) fn console_errors(&self) -> Vec<&str> {
        self.log.lines().filter(|l| l.contains("CONSOLE")).collect()
    }
}

/// Runs headless Chromium on `file` with `fragment` (after `#`): its own profile
/// directory (tests run in parallel), a time budget for the page's scripts, and a
/// timeout so a test never hangs. `screenshot`: also a PNG of the page.
pub(crate) fn browse(tmp: &Path, file: &Path, fragment: &str, screenshot: Option<&Path>) -> Page {
    let profile = tmp.join(format!("profile-{}", fragment.len()));
    let url = format!("file://{}#{fragment}", file.display());
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--hide-scrollbars".to_string(),
        "--no-first-run".to_string(),
        format!("--user-data-dir={}", profile.display()),
        "--enable-logging=stderr".to_string(),
        "--v=0".to_string(),
        "--virtual-time-budget=5000".to_string(),
    ];
    match screenshot {
        Some(png) => {
            args.push("--window-size=1100,1000".to_string());
            args.push(format!("--screenshot={}", png.display()));
        }
        None => args.push("--dump-dom".to_string()),
    }
    args.push(url);
    let out = Command::new("timeout")
        .arg("--kill-after=5")
        .arg("90")
        .arg(chromium())
        .args(&args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Page {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
