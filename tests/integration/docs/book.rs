//! The book's structure, checked without building it: every SUMMARY entry
//! is a page and every page is in SUMMARY (mdBook renders only what SUMMARY
//! lists), and every relative link and image in the repository's Markdown
//! (README.md, the book, the other READMEs) names a file that exists and,
//! for a `#fragment` into a Markdown file, one of its headings. So a page
//! moved or a heading renamed fails `cargo test`, not a reader.
//!
//! Headings get the ids GitHub and mdBook give them: lower case, letters,
//! digits, `-` and `_` kept, white space turned into `-`, everything else
//! dropped, a repeated id suffixed `-1`, `-2`, ...

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use crate::support::harness::repo;

/// The book's pages, relative to the repository, in SUMMARY order.
pub(super) fn summary_pages() -> Vec<String> {
    let summary =
        std::fs::read_to_string(repo("docs/src/SUMMARY.md")).expect("docs/src/SUMMARY.md");
    links(&summary)
        .into_iter()
        .filter(|link| !link.target.is_empty())
        .map(|link| format!("docs/src/{}", link.target))
        .collect()
}

/// README.md, then the book's pages in SUMMARY order: the files whose
/// commands the runner executes.
pub(super) fn documentation_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    files.extend(summary_pages());
    files
}

/// A link's target as written, and the line it is on.
#[derive(Debug)]
struct Link {
    line: usize,
    target: String,
}

/// The inline links and images (`[text](target)`, `![alt](target)`) and
/// link definitions (`[label]: target`) of a Markdown text, outside fenced
/// code blocks and code spans. A target's optional title is dropped.
fn links(markdown: &str) -> Vec<Link> {
    let mut found = Vec::new();
    let mut fenced = false;
    for (i, text) in markdown.lines().enumerate() {
        if text.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let text = without_code_spans(text);
        let mut push = |target: &str| {
            let target = target.trim();
            let target = target.split_once(" \"").map_or(target, |(t, _)| t);
            let target = target.trim_start_matches('<').trim_end_matches('>');
            found.push(Link {
                line: i + 1,
                target: target.to_owned(),
            });
        };
        if let Some(rest) = text.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]:")
        {
            push(target);
            continue;
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            push(&after[..end]);
            rest = &after[end + 1..];
        }
    }
    found
}

/// The line with every `code span` blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

/// The ids of a Markdown file's headings, as GitHub and mdBook make them.
fn heading_ids(markdown: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut fenced = false;
    for text in markdown.lines() {
        if text.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !text.starts_with('#') {
            continue;
        }
        let title = text.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let id = heading_id(title.trim());
        let n = seen.entry(id.clone()).or_default();
        ids.insert(if *n == 0 {
            id.clone()
        } else {
            format!("{id}-{n}")
        });
        *n += 1;
    }
    ids
}

fn heading_id(title: &str) -> String {
    // A link in a heading counts by its text.
    let mut text = String::new();
    let mut rest = title;
    while let Some(at) = rest.find("](") {
        text.push_str(&rest[..at]);
        rest = rest[at..].split_once(')').map_or("", |(_, after)| after);
    }
    text.push_str(rest);
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Every Markdown file of the repository, relative to it, sorted; build
/// output, the rendered book and dependencies are not looked at.
fn markdown_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            let rel_str = rel.to_string_lossy().into_owned();
            if rel_str.starts_with('.') && rel_str != ".ci"
                || ["target", "docs/book", "fuzz/target", "fuzz/corpus"].contains(&rel_str.as_str())
            {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else if rel_str.ends_with(".md") {
                out.push(rel_str);
            }
        }
    }
    let root = repo("");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn summary_lists_every_page_and_only_pages_that_exist() {
    let pages = summary_pages();
    assert!(pages.len() >= 30, "the book has its chapters: {pages:?}");
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for page in &pages {
        if !repo(page).is_file() {
            problems.push(format!(
                "docs/src/SUMMARY.md lists {page}, which does not exist"
            ));
        }
        if !listed.insert(page.clone()) {
            problems.push(format!("docs/src/SUMMARY.md lists {page} twice"));
        }
    }
    for file in markdown_files() {
        if file.starts_with("docs/src/") && file != "docs/src/SUMMARY.md" && !listed.contains(&file)
        {
            problems.push(format!(
                "{file} is not in docs/src/SUMMARY.md, so the book leaves it out"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn relative_links_resolve() {
    let files = markdown_files();
    assert!(files.contains(&"README.md".to_owned()));
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(repo(file)).expect("a Markdown file reads");
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        for link in links(&text) {
            let target = link.target.as_str();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if path.is_empty() {
                PathBuf::from(file)
            } else {
                normalize(&dir.join(path))
            };
            checked += 1;
            let at = format!("{file}:{}: `{target}`", link.line);
            if resolved.starts_with("..") {
                problems.push(format!("{at} leaves the repository"));
                continue;
            }
            let full = repo(&resolved.to_string_lossy());
            if !full.exists() {
                problems.push(format!("{at}: no such file {}", resolved.display()));
                continue;
            }
            if fragment.is_empty() || !resolved.to_string_lossy().ends_with(".md") {
                continue;
            }
            let headings = ids.entry(resolved.clone()).or_insert_with(|| {
                heading_ids(&std::fs::read_to_string(&full).unwrap_or_default())
            });
            if !headings.contains(fragment) {
                problems.push(format!(
                    "{at}: {} has no heading #{fragment}",
                    resolved.display()
                ));
            }
        }
    }
    assert!(checked >= 100, "the links were found: {checked}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn links_and_headings_are_read_as_github_reads_them() {
    let text = "# Admin API over HTTPS\n## `server`\n## Kubernetes: GslbOverride (declarative overrides)\n\
                ## `server`\n```sh\n# not a heading\n```\n## Hostname targets (alias flattening)\n";
    let ids = heading_ids(text);
    for id in [
        "admin-api-over-https",
        "server",
        "server-1",
        "kubernetes-gslboverride-declarative-overrides",
        "hostname-targets-alias-flattening",
    ] {
        assert!(ids.contains(id), "{id} in {ids:?}");
    }
    assert_eq!(ids.len(), 5, "{ids:?}");
    let found = links(
        "See [a](a.md#x) and ![p](img/p.png \"t\") but not `[c](c.md)`.\n```\n[d](d.md)\n```\n[e]: e.md\n",
    );
    let targets: Vec<&str> = found.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["a.md#x", "img/p.png", "e.md"]);
    assert_eq!(
        normalize(Path::new("docs/src/ops/../../x.md")),
        Path::new("docs/x.md")
    );
}
