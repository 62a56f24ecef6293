//! Where a field is written in a YAML (or JSON) file, for errors found
//! after the file was parsed: validation knows a field by its path
//! (`records[3].sets[0].targets[1]`), the operator's editor by its line
//! and column.
//!
//! A second pass over the text, run only when a load has errors, so the
//! parse of a valid file (100,000 records) carries no positions. It reads
//! the parser's events once, keeps a path only for nodes on the way to a
//! wanted field, and never expands an alias (an alias is where its value
//! is used, which is what the operator edits).

use std::collections::{BTreeSet, HashMap};

use serde_saphyr::granit_parser::{Event, Parser};

use super::Location;

/// The position of each of `paths` in `text`: the key of a mapping entry
/// (`server.udp_workers` → where `udp_workers:` is written), the item of a
/// list (`targets[1]` → the second target), or, when the field is not in
/// the text (a required key left out, a default out of range), its nearest
/// enclosing one that is. `None` when not even the first key is there.
pub(super) fn locate(text: &str, paths: &[&str]) -> Vec<Option<Location>> {
    let wanted: BTreeSet<&str> = paths.iter().copied().filter(|p| !p.is_empty()).collect();
    if wanted.is_empty() {
        return vec![None; paths.len()];
    }
    let found = walk(text, &wanted);
    paths
        .iter()
        .map(|path| {
            let mut path = *path;
            loop {
                if let Some(at) = found.get(path) {
                    return Some(*at);
                }
                path = parent(path)?;
            }
        })
        .collect()
}

/// The enclosing field of `path`: `a.b[2]` → `a.b` → `a` → none.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    // A key may hold dots (`nameservers.ns1.example.test.`); the nearest
    // found ancestor is all that is asked, so cutting at any dot is fine.
    Some(&path[..cut]).filter(|p| !p.is_empty())
}

/// One open mapping or list.
struct Frame {
    /// Its own path; `None` when no wanted field lies inside it.
    path: Option<String>,
    kind: Kind,
}

enum Kind {
    /// A mapping, between entries (`None`) or after a key (its child path,
    /// `None` inside when the child is not wanted).
    Map { after_key: Option<Option<String>> },
    /// A list and the index of its next item.
    Seq { next: usize },
}

/// Reads the events of the first document, recording the position of
/// every node whose path is a wanted path or leads to one.
fn walk(text: &str, wanted: &BTreeSet<&str>) -> HashMap<String, Location> {
    let leads_to = |path: &str| {
        wanted
            .range(path..)
            .next()
            .is_some_and(|w| w.starts_with(path))
    };
    let mut found = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            break; // a syntax error: keep what was found before it
        };
        let at = Location {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let opens = match &event {
            Event::MappingStart(..) => Some(Kind::Map { after_key: None }),
            Event::SequenceStart(..) => Some(Kind::Seq { next: 0 }),
            Event::Scalar(..) | Event::Alias(..) => None,
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                continue;
            }
            Event::DocumentEnd => break,
            _ => continue,
        };
        // The path of this node, when it is a value; a mapping key only
        // names the value that follows it.
        let path = match stack.last_mut() {
            None => Some(String::new()),
            Some(Frame {
                path: parent,
                kind: Kind::Map { after_key },
            }) => match after_key.take() {
                Some(child) => child,
                None => {
                    // A key. Non-text keys (a mapping as a key) name
                    // nothing the config has.
                    let child = match (&event, parent.as_deref()) {
                        (Event::Scalar(key, ..), Some(parent)) => {
                            let child = join(parent, key);
                            leads_to(&child).then(|| {
                                found.insert(child.clone(), at);
                                child
                            })
                        }
                        _ => None,
                    };
                    *after_key = Some(child);
                    if let Some(kind) = opens {
                        stack.push(Frame { path: None, kind });
                    }
                    continue;
                }
            },
            Some(Frame {
                path: parent,
                kind: Kind::Seq { next },
            }) => {
                let child = parent.as_deref().map(|p| format!("{p}[{next}]"));
                *next += 1;
                child.filter(|c| leads_to(c)).inspect(|c| {
                    found.insert(c.clone(), at);
                })
            }
        };
        if let Some(kind) = opens {
            stack.push(Frame { path, kind });
        }
    }
    found
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::{Location, locate};

    const YAML: &str = "\
server:
  dns_listen: [\"127.0.0.1:53\"]
zones:
  - origin: global.example.test.
    nameservers:
      ns1.global.example.test.: [192.0.2.53, 192.0.2.54]
records:
  - name: a.global.example.test.
    sets:
      - id: x
        targets:
          - 192.0.2.1
          - &t 10.0.0.300
      - { id: y, targets: [*t], weight: -1 }
";

    fn at(line: usize, column: usize) -> Option<Location> {
        Some(Location { line, column })
    }

    #[test]
    fn fields_are_found_by_path_and_missing_ones_by_their_parent() {
        let paths = [
            "server.dns_listen[0]",
            "zones[0].nameservers.ns1.global.example.test.[1]",
            "records[0].sets[0].targets[1]",
            "records[0].sets[1].weight",
            "records[0].sets[1].targets[0]",
            "records[0].ttl",
            "health_checks.web",
            "",
        ];
        assert_eq!(
            locate(YAML, &paths),
            [
                at(2, 16),
                at(6, 46),
                at(13, 16),
                at(14, 33),
                at(14, 28),
                at(8, 5),
                None,
                None,
            ]
        );
    }

    #[test]
    fn json_is_read_like_yaml() {
        let json = "{\"records\": [\n  {\"name\": \"a.example.test.\", \"sets\": [{\"id\": \"x\", \"weight\": \"x\"}]}\n]}";
        assert_eq!(locate(json, &["records[0].sets[0].weight"]), [at(2, 52)]);
    }

    #[test]
    fn a_syntax_error_keeps_what_came_before() {
        let text = "server:\n  udp_workers: 0\nzones: [\n";
        assert_eq!(locate(text, &["server.udp_workers"]), [at(2, 3)]);
    }
}
