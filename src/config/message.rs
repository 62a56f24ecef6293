//! What the YAML and JSON readers say about a file, in the config's own
//! words: where the problem is (line and column, apart from the text) and
//! what is wrong, without the libraries' type names (`i64`, `struct
//! RawServer`, `untagged enum RawStatus`) or their options
//! (`DuplicateKeyPolicy`).

use std::borrow::Cow;

use serde_saphyr::Error as YamlError;

use super::Location;

/// A reader's complaint, made presentable: the message and, when the
/// reader knew it, where in the file.
pub(super) struct Complaint {
    /// Where the reader stopped.
    pub(super) at: Option<Location>,
    /// What is wrong, in config terms.
    pub(super) message: String,
    /// The key a duplicate-key complaint is about, which belongs in the
    /// error's path.
    pub(super) duplicate_key: Option<String>,
    /// Whether the field's path places it better than the reader's
    /// position: a missing key is noticed where its mapping ends, but
    /// belongs to where the mapping starts.
    pub(super) place_by_path: bool,
}

/// serde-saphyr's error, unwrapped from its alias and snippet layers.
pub(super) fn yaml(error: &YamlError) -> Complaint {
    let mut cause = error;
    while let YamlError::AliasError { error, .. } | YamlError::WithSnippet { error, .. } = cause {
        cause = error;
    }
    let at = cause.location().or_else(|| error.location()).and_then(|l| {
        (l.line() > 0).then(|| Location {
            line: l.line() as usize,
            column: l.column().max(1) as usize,
        })
    });
    let place_by_path = matches!(cause, YamlError::SerdeMissingField { .. });
    let (message, duplicate_key) = match cause {
        YamlError::DuplicateMappingKey { key, .. } => (
            "is given twice in the same mapping; keep one".to_owned(),
            key.clone(),
        ),
        YamlError::InvalidScalar { ty, .. } => (format!("is not {}", type_words(ty)), None),
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            format!(
                "{} is not {}",
                value_words(unexpected),
                type_words(expected)
            ),
            None,
        ),
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => (unknown_key(field, expected), None),
        YamlError::SerdeMissingField { field, .. } => (format!("`{field}` is required"), None),
        YamlError::Unexpected { expected, .. } => {
            (format!("expected {}", structure_words(expected)), None)
        }
        YamlError::Budget { breach, .. } => (budget_words(&format!("{breach:?}")), None),
        YamlError::AliasReplayLimitExceeded {
            total_replayed_events,
            max_total_replayed_events,
            ..
        } => (
            format!(
                "its aliases replay {total_replayed_events} YAML events, more than the {max_total_replayed_events} allowed"
            ),
            None,
        ),
        YamlError::AliasExpansionLimitExceeded {
            expansions,
            max_expansions_per_anchor,
            ..
        } => (
            format!(
                "one anchor is used {expansions} times, more than the {max_expansions_per_anchor} allowed"
            ),
            None,
        ),
        YamlError::AliasReplayStackDepthExceeded {
            depth, max_depth, ..
        } => (
            format!("aliases nest {depth} deep, more than the {max_depth} allowed"),
            None,
        ),
        other => {
            let text = other.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            (plain(strip_position(&text)), None)
        }
    };
    Complaint {
        at,
        message,
        duplicate_key,
        place_by_path,
    }
}

/// The scalar written at `at` in `text`, quoted, when a complaint about
/// it did not say what it was (`"80x" is not a whole number`).
pub(super) fn quote_value(complaint: &mut Complaint, text: &str) {
    let Some(at) = complaint.at else {
        return;
    };
    if !complaint.message.starts_with("is not ") {
        return;
    }
    let Some(line) = text.lines().nth(at.line.saturating_sub(1)) else {
        return;
    };
    let rest: String = line.chars().skip(at.column.saturating_sub(1)).collect();
    let value = match rest.chars().next() {
        Some('{' | '[') => return, // a structure: its shape is the news
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default(),
        _ => rest
            .split([',', ']', '}', '#'])
            .next()
            .unwrap_or_default()
            .trim(),
    };
    if !value.is_empty() && value.chars().count() <= 64 {
        complaint.message = format!("{value:?} {}", complaint.message);
    }
}

/// serde_json's error, for JSON record files.
pub(super) fn json(error: &serde_json::Error) -> Complaint {
    let at = (error.line() > 0).then(|| Location {
        line: error.line(),
        column: error.column().max(1),
    });
    let text = error.to_string();
    Complaint {
        at,
        message: plain(strip_position(&text)),
        duplicate_key: None,
        // A wrong value or key is best shown at its key; a syntax error
        // where the reader stopped.
        place_by_path: error.classify() == serde_json::error::Category::Data,
    }
}

/// A serde message as the config's words: the shapes serde and its
/// derives name (`invalid type: string "x", expected i64`,
/// `data did not match any variant of untagged enum RawStatus`) said as
/// what the file should hold.
pub(super) fn plain(message: &str) -> String {
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((unexpected, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "{} is not {}",
            value_words(unexpected),
            type_words(expected)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once("`, expected ")
    {
        let expected: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(", ")
            .map(|k| k.trim_matches('`'))
            .collect();
        return unknown_key(field, &expected);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return format!("`{}` is required", rest.trim_end_matches('`'));
    }
    if message.starts_with("data did not match any variant of untagged enum RawStatus") {
        return "is not a status code (200), a list of codes and ranges, or text such as \"200-399\" or \"200,204\"".to_owned();
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        return format!(
            "`{}` is given twice in the same mapping; keep one",
            rest.trim_end_matches('`')
        );
    }
    if message.starts_with("EOF while parsing") {
        return "the file ends before its JSON does: a `]` or `}` is missing".to_owned();
    }
    message.to_owned()
}

fn unknown_key<S: AsRef<str>>(field: &str, expected: &[S]) -> String {
    let expected: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    if expected.is_empty() {
        format!("unknown key `{field}`: nothing may be set here")
    } else {
        format!(
            "unknown key `{field}`; the keys here are {}",
            expected.join(", ")
        )
    }
}

/// `string "x"`, `integer `5``, `map` → what a person calls them.
fn value_words(unexpected: &str) -> Cow<'_, str> {
    let unexpected = unexpected.trim();
    if let Some(text) = unexpected.strip_prefix("string ") {
        return Cow::Owned(format!("the text {text}"));
    }
    for (serde, words) in [
        ("integer", "the number"),
        ("floating point", "the number"),
        ("boolean", ""),
    ] {
        if let Some(value) = unexpected.strip_prefix(serde) {
            let value = value.trim().trim_matches('`');
            return Cow::Owned(format!("{words} {value}").trim().to_owned());
        }
    }
    Cow::Borrowed(match unexpected {
        "map" => "a mapping",
        "sequence" => "a list",
        "unit value" | "null" => "an empty value",
        other => other,
    })
}

/// serde's `expected` (a Rust type or a visitor's words) as the kind of
/// value the file should hold there.
fn type_words(expected: &str) -> String {
    let expected = expected.trim();
    if expected.starts_with("struct ") || expected == "a map" || expected.starts_with("map") {
        return "a mapping of keys (key: value)".to_owned();
    }
    if expected.starts_with("untagged enum RawStatus") {
        return "a status code or range".to_owned();
    }
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "a whole number".to_owned()
        }
        "f32" | "f64" | "floating point" => "a number".to_owned(),
        "bool" | "boolean" | "a boolean" => "true or false".to_owned(),
        "a string" | "string" | "str" => "text".to_owned(),
        "a sequence" | "sequence" => "a list".to_owned(),
        other => other.to_owned(),
    }
}

/// A reader budget that stopped the parse (given as the Debug text of the
/// reader's own type, `ScalarBytes { .. }`, whose name is all that is
/// used), in words.
fn budget_words(breach: &str) -> String {
    let name = breach.split([' ', '{', '(']).next().unwrap_or_default();
    match name {
        "ScalarBytes" | "RecordedAnchorBytes" => "its text adds up to more than allowed",
        "Events" | "RecordedAnchorEvents" => "it holds more YAML events than allowed",
        "Aliases" | "AliasAnchorRatio" => "it uses more aliases than allowed",
        "Anchors" => "it defines more anchors than allowed",
        "Depth" => "its lists and mappings nest deeper than allowed",
        "Nodes" => "it holds more values than allowed",
        "Documents" => "it holds more documents than allowed",
        "InputBytes" => "it is larger than allowed",
        _ => "it holds more than allowed",
    }
    .to_owned()
}

/// The reader's name for a structure it wanted.
fn structure_words(expected: &str) -> &str {
    match expected {
        "mapping start" | "empty mapping start" => "a mapping of keys (key: value)",
        "sequence start" => "a list",
        "scalar" | "string scalar" => "a single value, not a list or mapping",
        other => other,
    }
}

/// A message without the reader's own ` at line 3, column 7` (YAML) or
/// ` at line 3 column 7` (JSON): the position goes in front, like every
/// config error's.
fn strip_position(text: &str) -> &str {
    let first = text.lines().next().unwrap_or(text);
    match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn serde_messages_lose_their_type_names() {
        assert_eq!(
            plain("invalid type: string \"x\", expected i64"),
            "the text \"x\" is not a whole number"
        );
        assert_eq!(
            plain("invalid type: map, expected a sequence"),
            "a mapping is not a list"
        );
        assert_eq!(
            plain("invalid type: sequence, expected struct RawServer"),
            "a list is not a mapping of keys (key: value)"
        );
        assert_eq!(
            plain("data did not match any variant of untagged enum RawStatus"),
            "is not a status code (200), a list of codes and ranges, or text such as \"200-399\" or \"200,204\""
        );
        assert_eq!(
            plain("unknown field `wieght`, expected one of `id`, `weight`"),
            "unknown key `wieght`; the keys here are id, weight"
        );
        assert_eq!(plain("missing field `kind`"), "`kind` is required");
    }
}
