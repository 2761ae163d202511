//! Keeps the docs honest: every code block in docs/*.md that is preceded by
//! `<!-- example: PATH -->` must appear, line for line (indentation aside), in PATH.

use std::path::Path;

fn normalized(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn doc_snippets_are_the_real_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let doc = std::fs::read_to_string(&path).expect("read doc");
        let mut lines = doc.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(source) = line
                .trim()
                .strip_prefix("<!-- example: ")
                .and_then(|s| s.strip_suffix(" -->"))
            else {
                continue;
            };
            let fence = lines.next().unwrap_or("");
            assert!(
                fence.starts_with("```"),
                "{}: example marker not followed by a code block",
                path.display()
            );
            let mut block = String::new();
            for line in lines.by_ref() {
                if line.starts_with("```") {
                    break;
                }
                block.push_str(line);
                block.push('\n');
            }
            let code = std::fs::read_to_string(root.join(source))
                .unwrap_or_else(|e| panic!("{}: cannot read {source}: {e}", path.display()));
            let haystack = normalized(&code);
            let needle = normalized(&block);
            let found = haystack
                .windows(needle.len())
                .any(|window| window == needle.as_slice());
            assert!(
                found,
                "{}: the snippet from {source} no longer matches the code:\n{block}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "expected the docs to carry example snippets, found {checked}"
    );
}
