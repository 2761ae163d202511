//! Runs the PHP test scripts (tests/run.sh) against the extension cargo just built.
//! Skipped, with a note, when no `php` binary is on PATH.

use std::path::Path;
use std::process::Command;

#[test]
fn php_scripts_pass() {
    if Command::new("php").arg("-v").output().is_err() {
        eprintln!("php not found on PATH: skipping the PHP scripts");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run.sh");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run tests/run.sh");
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "PHP scripts failed:\n{text}");
}
