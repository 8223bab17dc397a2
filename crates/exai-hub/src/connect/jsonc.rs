//! A comment-preserving edit of one member in a JSON (or JSONC) file.
//!
//! VS Code's `mcp.json` and Zed's `settings.json` are JSON with comments and trailing commas;
//! the other editors' files are plain JSON that users edit by hand. Parsing into a value and
//! writing it back would drop comments, reorder keys and reformat everything, so instead this
//! module scans the text once into spans (where each object, member and value starts and
//! ends) and edits the text in place: it replaces one member's value, or inserts one member
//! (and the objects on its path, when missing) next to the others, with their indentation.
//! Every byte outside the edited member stays as it was.
//!
//! Accepted: RFC 8259 JSON plus `//` and `/* */` comments and trailing commas (JSONC as VS
//! Code reads it). A file that is not that is refused with its line and column.

use serde_json::Value;
use std::fmt;

/// Nested deeper than this is refused (config files are a few levels deep; this keeps the
/// recursive scanner's stack small).
const MAX_DEPTH: usize = 128;

/// Where and why the text is not JSON(C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was expected or found.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug)]
enum Kind {
    Object {
        members: Vec<Member>,
    },
    Array {
        items: Vec<Node>,
    },
    /// A string, number, `true`, `false` or `null` (already checked by `serde_json`).
    Scalar,
}

/// One value: `text[start..end]`.
#[derive(Debug)]
struct Node {
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    value: Node,
    /// The comma after the value, when there is one.
    comma: Option<usize>,
}

/// A scanned JSONC document.
#[derive(Debug)]
pub struct Doc<'a> {
    text: &'a str,
    /// `None` for an empty file (only whitespace and comments).
    root: Option<Node>,
}

/// An ordered JSON object, for the member this module writes: the keys are written in this
/// order, whatever `serde_json`'s map would do.
pub type Entry = Vec<(String, Value)>;

impl<'a> Doc<'a> {
    /// Scans `text`; fails with the line and column of the first thing that is not JSONC.
    pub fn parse(text: &'a str) -> Result<Doc<'a>, ParseError> {
        let mut scanner = Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        // A byte-order mark is allowed before the value (Windows editors write one).
        if text.starts_with('\u{feff}') {
            scanner.pos = '\u{feff}'.len_utf8();
        }
        scanner.skip_trivia()?;
        if scanner.pos == scanner.bytes.len() {
            return Ok(Doc { text, root: None });
        }
        let root = scanner.value(0)?;
        scanner.skip_trivia()?;
        if scanner.pos != scanner.bytes.len() {
            return Err(scanner.error(
                scanner.pos,
                "unexpected text after the end of the JSON value",
            ));
        }
        Ok(Doc {
            text,
            root: Some(root),
        })
    }

    /// The members of the object at `path` from the top (`["mcpServers"]`), in file order,
    /// as values; `None` when the path is missing (or the file is empty).
    pub fn members(&self, path: &[&str]) -> Result<Option<Vec<(String, Value)>>, String> {
        let Some(node) = self.find(path)? else {
            return Ok(None);
        };
        let Kind::Object { members } = &node.kind else {
            return Err(not_an_object(path));
        };
        Ok(Some(
            members
                .iter()
                .map(|member| (member.key.clone(), self.value(&member.value)))
                .collect(),
        ))
    }

    /// The value of member `name` in the object at `path`, when there is one (the last, if
    /// the key repeats: that is the one JSON readers keep).
    pub fn member(&self, path: &[&str], name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .members(path)?
            .and_then(|members| members.into_iter().rev().find(|(key, _)| key == name))
            .map(|(_, value)| value))
    }

    /// The whole text with member `name` of the object at `path` set to `entry`.
    ///
    /// An existing member that is an object keeps its other keys (and their order); the keys
    /// of `entry` replace theirs. A missing member (or path) is inserted after the last
    /// member, indented like its siblings. Returns the text unchanged when the member already
    /// has exactly these values.
    pub fn set_member(&self, path: &[&str], name: &str, entry: &Entry) -> Result<String, String> {
        let Some(root) = &self.root else {
            // An empty file: a new object, after whatever comments were there.
            let mut base = self.text.trim_end().to_owned();
            if !base.is_empty() {
                base.push('\n');
            }
            let start = base.len();
            base.push_str("{}\n");
            let doc = Doc::parse(&base).map_err(|err| err.to_string())?;
            debug_assert!(doc.root.as_ref().is_some_and(|root| root.start == start));
            return doc.set_member(path, name, entry);
        };
        let unit = self.indent_unit(root);
        let mut object = root;
        for (depth, key) in path.iter().enumerate() {
            let Kind::Object { members } = &object.kind else {
                return Err(not_an_object(&path[..depth]));
            };
            match members.iter().rev().find(|member| member.key == *key) {
                Some(member) => object = &member.value,
                None => {
                    // Build the rest of the path around the entry and insert it here.
                    let inner = (name.to_owned(), EntryValue::Entry(entry.clone()));
                    let nested = path[depth + 1..].iter().rev().fold(inner, |inside, key| {
                        ((*key).to_owned(), EntryValue::Object(vec![inside]))
                    });
                    let (key, value) = (key.to_string(), EntryValue::Object(vec![nested]));
                    return Ok(self.insert(object, &key, &value, &unit));
                }
            }
        }
        let Kind::Object { members } = &object.kind else {
            return Err(not_an_object(path));
        };
        match members.iter().rev().find(|member| member.key == name) {
            Some(member) => {
                let merged = match &member.value.kind {
                    Kind::Object { members: old } => {
                        let mut merged: Entry = old
                            .iter()
                            .map(|m| (m.key.clone(), self.value(&m.value)))
                            .collect();
                        let before = merged.clone();
                        for (key, value) in entry {
                            match merged.iter_mut().find(|(k, _)| k == key) {
                                Some(slot) => slot.1 = value.clone(),
                                None => merged.push((key.clone(), value.clone())),
                            }
                        }
                        if merged == before {
                            return Ok(self.text.to_owned());
                        }
                        merged
                    }
                    _ => entry.clone(),
                };
                let indent = self.member_indent(object, member, &unit);
                let inline = !self.text[object.start..object.end].contains('\n');
                let text = render(&EntryValue::Entry(merged), &indent, &unit, inline);
                Ok(splice(
                    self.text,
                    &[(member.value.start, member.value.end, text)],
                ))
            }
            None => Ok(self.insert(object, name, &EntryValue::Entry(entry.clone()), &unit)),
        }
    }

    /// The whole text with members of the object at `path` set to `values`, each on its own:
    /// an existing member's value replaced where it stands (written on one line), a missing
    /// one added after the last member. Every other byte, the object's other members and their
    /// comments included, stays as it was; the text is unchanged when the values already are.
    pub fn set_values(&self, path: &[&str], values: &[(String, Value)]) -> Result<String, String> {
        let mut text = self.text.to_owned();
        for (key, value) in values {
            let doc = Doc::parse(&text).map_err(|err| err.to_string())?;
            let object = doc
                .find(path)?
                .ok_or_else(|| format!("\"{}\" is missing", path.join(".")))?;
            let Kind::Object { members } = &object.kind else {
                return Err(not_an_object(path));
            };
            let edited = match members.iter().rev().find(|member| member.key == *key) {
                Some(member) if doc.value(&member.value) == *value => continue,
                Some(member) => splice(
                    doc.text,
                    &[(member.value.start, member.value.end, compact(value))],
                ),
                None => {
                    let unit = doc
                        .root
                        .as_ref()
                        .map_or_else(|| "  ".to_owned(), |root| doc.indent_unit(root));
                    doc.insert(object, key, &EntryValue::Value(value.clone()), &unit)
                }
            };
            text = edited;
        }
        Ok(text)
    }

    fn find(&self, path: &[&str]) -> Result<Option<&Node>, String> {
        let Some(mut node) = self.root.as_ref() else {
            return Ok(None);
        };
        for (depth, key) in path.iter().enumerate() {
            let Kind::Object { members } = &node.kind else {
                return Err(not_an_object(&path[..depth]));
            };
            match members.iter().rev().find(|member| member.key == *key) {
                Some(member) => node = &member.value,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The value of a node (comments and trailing commas dropped).
    fn value(&self, node: &Node) -> Value {
        match &node.kind {
            Kind::Object { members } => Value::Object(
                members
                    .iter()
                    .map(|member| (member.key.clone(), self.value(&member.value)))
                    .collect(),
            ),
            Kind::Array { items } => {
                Value::Array(items.iter().map(|item| self.value(item)).collect())
            }
            // Checked when scanned.
            Kind::Scalar => {
                serde_json::from_str(&self.text[node.start..node.end]).unwrap_or(Value::Null)
            }
        }
    }

    /// Inserts `"key": value` as the last member of `object`.
    fn insert(&self, object: &Node, key: &str, value: &EntryValue, unit: &str) -> String {
        let Kind::Object { members } = &object.kind else {
            return self.text.to_owned();
        };
        let open = object.start;
        let close = object.end - 1;
        // An empty `{}` opens up; a one-line object with members stays on one line.
        let inline = !members.is_empty() && !self.text[open..close].contains('\n');
        // After the last thing inside the braces (a member, a comma or a comment).
        let last = open + 1 + self.text[open + 1..close].trim_end().len();
        let member_text = |indent: &str| {
            format!(
                "{}: {}",
                json_string(key),
                render(value, indent, unit, inline)
            )
        };
        match members.last() {
            Some(prev) if inline => match prev.comma {
                Some(comma) => splice(
                    self.text,
                    &[(comma + 1, comma + 1, format!(" {},", member_text("")))],
                ),
                None => splice(
                    self.text,
                    &[(
                        prev.value.end,
                        prev.value.end,
                        format!(", {}", member_text("")),
                    )],
                ),
            },
            Some(prev) => {
                let indent = self.member_indent(object, prev, unit);
                let text = member_text(&indent);
                match prev.comma {
                    // Trailing-comma style: keep it.
                    Some(_) => splice(self.text, &[(last, last, format!("\n{indent}{text},"))]),
                    None => splice(
                        self.text,
                        &[
                            (prev.value.end, prev.value.end, ",".to_owned()),
                            (last, last, format!("\n{indent}{text}")),
                        ],
                    ),
                }
            }
            None => {
                let outer = line_indent(self.text, open);
                let indent = format!("{outer}{unit}");
                let text = member_text(&indent);
                if self.text[last..close].contains('\n') {
                    splice(self.text, &[(last, last, format!("\n{indent}{text}"))])
                } else {
                    splice(
                        self.text,
                        &[(last, close, format!("\n{indent}{text}\n{outer}"))],
                    )
                }
            }
        }
    }

    /// The indentation of a member's line when it starts the line, else one unit more than
    /// its object's line.
    fn member_indent(&self, object: &Node, member: &Member, unit: &str) -> String {
        let line_start = self.text[..member.key_start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let before = &self.text[line_start..member.key_start];
        if before.chars().all(|c| c == ' ' || c == '\t') {
            before.to_owned()
        } else {
            format!("{}{unit}", line_indent(self.text, object.start))
        }
    }

    /// One level of indentation as the file does it: the top object's first member's line
    /// (two spaces when that tells nothing).
    fn indent_unit(&self, root: &Node) -> String {
        if let Kind::Object { members } = &root.kind
            && let Some(first) = members.first()
        {
            let outer = line_indent(self.text, root.start);
            let indent = self.member_indent(root, first, "  ");
            if let Some(unit) = indent.strip_prefix(&outer)
                && !unit.is_empty()
            {
                return unit.to_owned();
            }
        }
        "  ".to_owned()
    }
}

fn not_an_object(path: &[&str]) -> String {
    if path.is_empty() {
        "the top level is not a JSON object".to_owned()
    } else {
        format!("\"{}\" is not a JSON object", path.join("."))
    }
}

/// The whitespace at the start of the line that holds `pos`.
fn line_indent(text: &str, pos: usize) -> String {
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// `text` with each `(start, end, replacement)` applied (ranges must not overlap).
fn splice(text: &str, edits: &[(usize, usize, String)]) -> String {
    let mut edits: Vec<&(usize, usize, String)> = edits.iter().collect();
    edits.sort_by_key(|(start, _, _)| *start);
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..*start]);
        out.push_str(replacement);
        at = *end;
    }
    out.push_str(&text[at..]);
    out
}

/// What is written: the entry (keys in order), objects around it on a missing path, or one
/// value (on one line).
enum EntryValue {
    Entry(Entry),
    Object(Vec<(String, EntryValue)>),
    Value(Value),
}

fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A value as it is written at `indent`: one member per line (the entry's arrays and
/// objects on one line each, as people write them), or all on one line inside an object
/// that is itself on one line.
fn render(value: &EntryValue, indent: &str, unit: &str, inline: bool) -> String {
    let members: Vec<(String, String)> = match value {
        EntryValue::Value(value) => return compact(value),
        EntryValue::Entry(entry) => entry
            .iter()
            .map(|(key, value)| (json_string(key), compact(value)))
            .collect(),
        EntryValue::Object(members) => members
            .iter()
            .map(|(key, value)| {
                (
                    json_string(key),
                    render(value, &format!("{indent}{unit}"), unit, inline),
                )
            })
            .collect(),
    };
    if members.is_empty() {
        return "{}".to_owned();
    }
    if inline {
        let inner: Vec<String> = members.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        return format!("{{ {} }}", inner.join(", "));
    }
    let inner: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{indent}{unit}{k}: {v}"))
        .collect();
    format!("{{\n{}\n{indent}}}", inner.join(",\n"))
}

/// One line, with a space after `:` and `,` (`["--name", "x"]`, `{ "K": "v" }`).
fn compact(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", json_string(k), compact(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn error(&self, at: usize, message: &str) -> ParseError {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ParseError {
            line,
            column: before[line_start..].chars().count() + 1,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        self.pos = self.text[self.pos..]
                            .find('\n')
                            .map_or(self.bytes.len(), |i| self.pos + i);
                    }
                    Some(b'*') => match self.text[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => return Err(self.error(self.pos, "a /* comment is never closed")),
                    },
                    _ => return Err(self.error(self.pos, "unexpected '/'")),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(self.pos, "nested too deeply"));
        }
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                self.string()?;
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Scalar,
                })
            }
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                while let Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'+' | b'-' | b'.') =
                    self.peek()
                {
                    self.pos += 1;
                }
                if serde_json::from_str::<Value>(&self.text[start..self.pos]).is_err() {
                    return Err(self.error(
                        start,
                        &format!("{:?} is not a JSON value", &self.text[start..self.pos]),
                    ));
                }
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Scalar,
                })
            }
            Some(_) => Err(self.error(start, "expected a JSON value")),
            None => Err(self.error(start, "the file ends where a value was expected")),
        }
    }

    /// A string, checked and decoded; `pos` ends after its closing quote.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(b'\n') | None => return Err(self.error(start, "a string is never closed")),
                Some(_) => self.pos += 1,
            }
        }
        self.pos += 1;
        serde_json::from_str::<String>(&self.text[start..self.pos])
            .map_err(|err| self.error(start, &format!("not a valid JSON string ({err})")))
    }

    fn object(&mut self, depth: usize) -> Result<Node, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b'}') => break,
                Some(b'"') => {
                    if let Some(prev) = members.last()
                        && prev.comma.is_none()
                    {
                        return Err(self.error(self.pos, "expected ',' or '}' after a member"));
                    }
                    let key_start = self.pos;
                    let key = self.string()?;
                    self.skip_trivia()?;
                    if self.peek() != Some(b':') {
                        return Err(self.error(self.pos, "expected ':' after a key"));
                    }
                    self.pos += 1;
                    self.skip_trivia()?;
                    let value = self.value(depth + 1)?;
                    self.skip_trivia()?;
                    let comma = (self.peek() == Some(b',')).then(|| {
                        self.pos += 1;
                        self.pos - 1
                    });
                    members.push(Member {
                        key,
                        key_start,
                        value,
                        comma,
                    });
                }
                Some(_) => {
                    return Err(self.error(self.pos, "expected a key in double quotes or '}'"));
                }
                None => return Err(self.error(start, "an object is never closed")),
            }
        }
        self.pos += 1;
        Ok(Node {
            start,
            end: self.pos,
            kind: Kind::Object { members },
        })
    }

    fn array(&mut self, depth: usize) -> Result<Node, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        let mut comma = true;
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b']') => break,
                None => return Err(self.error(start, "an array is never closed")),
                Some(_) if !comma => {
                    return Err(self.error(self.pos, "expected ',' or ']' after an item"));
                }
                Some(_) => {
                    items.push(self.value(depth + 1)?);
                    self.skip_trivia()?;
                    comma = self.peek() == Some(b',');
                    if comma {
                        self.pos += 1;
                    }
                }
            }
        }
        self.pos += 1;
        Ok(Node {
            start,
            end: self.pos,
            kind: Kind::Array { items },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(command: &str) -> Entry {
        vec![
            ("type".to_owned(), json!("stdio")),
            ("command".to_owned(), json!(command)),
            (
                "args".to_owned(),
                json!(["--name", "${workspaceFolderBasename}"]),
            ),
        ]
    }

    fn set(text: &str, path: &[&str], command: &str) -> String {
        Doc::parse(text)
            .unwrap()
            .set_member(path, "exai", &entry(command))
            .unwrap()
    }

    /// The part of `after` that differs from `before`, and the part of `before` it replaced.
    fn changed<'a>(before: &'a str, after: &'a str) -> (&'a str, &'a str) {
        let prefix = before
            .bytes()
            .zip(after.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = before[prefix..]
            .bytes()
            .rev()
            .zip(after[prefix..].bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        (
            &before[prefix..before.len() - suffix],
            &after[prefix..after.len() - suffix],
        )
    }

    const VSCODE: &str = "// My MCP servers\n{\n\t\"servers\": {\n\t\t// the memory server\n\t\t\"memory\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\"-y\", \"@modelcontextprotocol/server-memory\",], // trailing comma\n\t\t},\n\t\t/* keep me */\n\t},\n\t\"inputs\": [],\n}\n";

    #[test]
    fn an_empty_or_missing_file_gets_a_whole_object() {
        let text = set("", &["servers"], "/usr/bin/exai-shim");
        assert_eq!(
            text,
            "{\n  \"servers\": {\n    \"exai\": {\n      \"type\": \"stdio\",\n      \"command\": \"/usr/bin/exai-shim\",\n      \"args\": [\"--name\", \"${workspaceFolderBasename}\"]\n    }\n  }\n}\n"
        );
        let comments = set("// nothing yet\n", &["servers"], "x");
        assert!(comments.starts_with("// nothing yet\n{\n"), "{comments}");
        assert_eq!(
            set("{}", &["mcpServers"], "x"),
            set("{ }\n", &["mcpServers"], "x").trim_end()
        );
    }

    #[test]
    fn comments_and_trailing_commas_survive_and_only_the_member_is_added() {
        let after = set(VSCODE, &["servers"], "/usr/bin/exai-shim");
        // Inserted after the last member's comma and the comment after it, tab-indented like
        // it, with a trailing comma as the file uses them; every other byte as it was.
        let at = VSCODE.find("/* keep me */").unwrap() + "/* keep me */".len();
        let member = "\n\t\t\"exai\": {\n\t\t\t\"type\": \"stdio\",\n\t\t\t\"command\": \"/usr/bin/exai-shim\",\n\t\t\t\"args\": [\"--name\", \"${workspaceFolderBasename}\"]\n\t\t},";
        assert_eq!(after, format!("{}{member}{}", &VSCODE[..at], &VSCODE[at..]));
        let doc = Doc::parse(&after).unwrap();
        assert_eq!(
            doc.member(&["servers"], "memory").unwrap().unwrap()["command"],
            "npx"
        );
        assert_eq!(
            doc.member(&["servers"], "exai").unwrap().unwrap()["command"],
            "/usr/bin/exai-shim"
        );
        assert!(after.contains("/* keep me */") && after.contains("// trailing comma"));
        // The second time, nothing changes.
        assert_eq!(set(&after, &["servers"], "/usr/bin/exai-shim"), after);
    }

    #[test]
    fn a_member_without_a_trailing_comma_gets_one_before_the_new_member() {
        let before = "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"a\" } // why\n  },\n  \"other\": true\n}";
        let after = set(before, &["mcpServers"], "x");
        assert_eq!(
            after,
            "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"a\" }, // why\n    \"exai\": {\n      \"type\": \"stdio\",\n      \"command\": \"x\",\n      \"args\": [\"--name\", \"${workspaceFolderBasename}\"]\n    }\n  },\n  \"other\": true\n}"
        );
    }

    #[test]
    fn a_stale_entry_is_replaced_in_place_keeping_its_other_keys() {
        let before = "{\n  // keep\n  \"mcpServers\": {\n    \"exai\": { \"command\": \"/old/target/debug/exai-shim\", \"args\": [], \"env\": { \"EXAI_AUTOSTART\": \"hub\" } },\n    \"b\": { \"command\": \"b\" }\n  }\n}\n";
        let after = set(before, &["mcpServers"], "/usr/bin/exai-shim");
        let (removed, added) = changed(before, &after);
        assert!(
            removed.contains("/old/target/debug") && !removed.contains("\"b\""),
            "{removed}"
        );
        assert!(added.contains("/usr/bin/exai-shim"), "{added}");
        let value = Doc::parse(&after)
            .unwrap()
            .member(&["mcpServers"], "exai")
            .unwrap()
            .unwrap();
        assert_eq!(value["env"], json!({ "EXAI_AUTOSTART": "hub" }));
        assert_eq!(value["type"], "stdio");
        assert!(after.contains("    \"b\": { \"command\": \"b\" }\n"));
        assert_eq!(set(&after, &["mcpServers"], "/usr/bin/exai-shim"), after);
    }

    #[test]
    fn a_missing_servers_object_is_added_at_the_end_of_the_top_object() {
        let before =
            "// Zed settings\n{\n    \"theme\": \"One Dark\",\n    \"vim_mode\": true, // yes\n}\n";
        let after = set(before, &["context_servers"], "x");
        let at = before.find(" // yes").unwrap() + " // yes".len();
        let member = "\n    \"context_servers\": {\n        \"exai\": {\n            \"type\": \"stdio\",\n            \"command\": \"x\",\n            \"args\": [\"--name\", \"${workspaceFolderBasename}\"]\n        }\n    },";
        assert_eq!(after, format!("{}{member}{}", &before[..at], &before[at..]));
    }

    #[test]
    fn an_object_on_one_line_stays_on_one_line() {
        let after = set("{\"mcpServers\": {\"a\": {}}}", &["mcpServers"], "x");
        assert_eq!(
            after,
            "{\"mcpServers\": {\"a\": {}, \"exai\": { \"type\": \"stdio\", \"command\": \"x\", \"args\": [\"--name\", \"${workspaceFolderBasename}\"] }}}"
        );
    }

    #[test]
    fn invalid_json_is_refused_with_its_line_and_column() {
        let err =
            Doc::parse("{\n  \"servers\": {\n    \"a\": 1\n    \"b\": 2\n  }\n}").unwrap_err();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(err.message.contains("expected ','"), "{err}");
        let err = Doc::parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        let err = Doc::parse("{ /* open").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
        let err = Doc::parse("[1, 2]")
            .unwrap()
            .set_member(&["servers"], "exai", &entry("x"));
        assert_eq!(err.unwrap_err(), "the top level is not a JSON object");
        let err =
            Doc::parse("{\"servers\": []}")
                .unwrap()
                .set_member(&["servers"], "exai", &entry("x"));
        assert_eq!(err.unwrap_err(), "\"servers\" is not a JSON object");
    }

    #[test]
    fn strings_with_escapes_and_a_bom_are_read() {
        let text = "\u{feff}{\"mcpServers\": {\"exai\": {\"command\": \"C:\\\\Tools\\\\exai-shim.exe \\\"x\\\" // not a comment\"}}}";
        let doc = Doc::parse(text).unwrap();
        assert_eq!(
            doc.member(&["mcpServers"], "exai").unwrap().unwrap()["command"],
            "C:\\Tools\\exai-shim.exe \"x\" // not a comment"
        );
    }
}
