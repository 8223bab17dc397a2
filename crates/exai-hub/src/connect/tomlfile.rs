//! Codex's `config.toml`: one `[mcp_servers.<name>]` table set with `toml_edit`, which keeps
//! every comment, blank line and key order of the rest of the file.

use super::jsonc::Entry;
use serde_json::Value;
use toml_edit::{DocumentMut, InlineTable, Item, Table};

/// A parsed `config.toml`.
pub struct TomlDoc<'a> {
    text: &'a str,
    doc: DocumentMut,
}

impl<'a> TomlDoc<'a> {
    /// Parses `text`; the error names the line and column (as `toml_edit` reports them).
    pub fn parse(text: &'a str) -> Result<TomlDoc<'a>, String> {
        let doc = text.parse::<DocumentMut>().map_err(|err| {
            // "line L, column C: what", like the JSON files' errors (toml_edit's own text is
            // several lines with a drawing of the spot).
            let at = err.span().map_or(0, |span| span.start).min(text.len());
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count()
                + 1;
            format!("line {line}, column {column}: {}", err.message().trim_end())
        })?;
        Ok(TomlDoc { text, doc })
    }

    /// The servers in table `path` (`["mcp_servers"]`), as JSON values, in file order; `None`
    /// when the table is missing.
    pub fn members(&self, path: &[&str]) -> Result<Option<Vec<(String, Value)>>, String> {
        let mut item = self.doc.as_item();
        for key in path {
            match item.get(key) {
                Some(inner) => item = inner,
                None => return Ok(None),
            }
        }
        let table = item
            .as_table_like()
            .ok_or_else(|| format!("{} is not a table", path.join(".")))?;
        Ok(Some(
            table
                .iter()
                .map(|(key, item)| (key.to_owned(), item_to_json(item)))
                .collect(),
        ))
    }

    /// The text with `[<path>.<name>]` holding `entry`'s keys (other keys of an existing
    /// table kept); the text unchanged when it already does.
    pub fn set_member(
        mut self,
        path: &[&str],
        name: &str,
        entry: &Entry,
    ) -> Result<String, String> {
        let mut table: &mut Item = self.doc.as_item_mut();
        for key in path {
            if table.get(key).is_none() {
                let mut inner = Table::new();
                inner.set_implicit(true);
                insert(table, key, Item::Table(inner));
            }
            table = table
                .as_table_like_mut()
                .and_then(|table| table.get_mut(key))
                .filter(|item| item.is_table_like())
                .ok_or_else(|| format!("{} is not a table", path.join(".")))?;
        }
        let existing = table
            .as_table_like()
            .and_then(|table| table.get(name))
            .is_some();
        match existing {
            true => {
                let item = table
                    .as_table_like_mut()
                    .and_then(|table| table.get_mut(name))
                    .ok_or_else(|| format!("{}.{name} is missing", path.join(".")))?;
                let server_item = item;
                let server = server_item
                    .as_table_like_mut()
                    .ok_or_else(|| format!("{}.{name} is not a table", path.join(".")))?;
                let same = entry
                    .iter()
                    .all(|(key, value)| server.get(key).map(item_to_json).as_ref() == Some(value));
                if same {
                    return Ok(self.text.to_owned());
                }
                for (key, value) in entry {
                    let new = toml_value(value);
                    match server.get_mut(key).and_then(Item::as_value_mut) {
                        // Keep the key's place and the comment after its value.
                        Some(old) => {
                            let decor = old.decor().clone();
                            *old = new;
                            *old.decor_mut() = decor;
                        }
                        None => {
                            server.insert(key, Item::Value(new));
                        }
                    }
                }
            }
            false => {
                let mut server = Table::new();
                for (key, value) in entry {
                    server.insert(key, Item::Value(toml_value(value)));
                }
                insert(table, name, Item::Table(server));
            }
        }
        Ok(self.doc.to_string())
    }
}

/// Inserts into a table or an inline table (which holds only values).
fn insert(table: &mut Item, key: &str, item: Item) {
    if let Some(inline) = table.as_inline_table_mut() {
        let value = match item {
            Item::Table(table) => toml_edit::Value::InlineTable(table.into_inline_table()),
            Item::Value(value) => value,
            _ => toml_edit::Value::InlineTable(InlineTable::new()),
        };
        inline.insert(key, value);
    } else if let Some(table) = table.as_table_like_mut() {
        table.insert(key, item);
    }
}

fn toml_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::String(text) => text.as_str().into(),
        Value::Bool(flag) => (*flag).into(),
        Value::Number(number) => match number.as_i64() {
            Some(int) => int.into(),
            None => number.as_f64().unwrap_or_default().into(),
        },
        Value::Array(items) => toml_edit::Value::Array(items.iter().map(toml_value).collect()),
        Value::Object(map) => {
            let mut table = InlineTable::new();
            for (key, value) in map {
                table.insert(key, toml_value(value));
            }
            toml_edit::Value::InlineTable(table)
        }
        // TOML has no null: an empty string is the closest thing an editor would accept.
        Value::Null => "".into(),
    }
}

fn item_to_json(item: &Item) -> Value {
    match item {
        Item::Value(value) => value_to_json(value),
        Item::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, item)| (key.to_owned(), item_to_json(item)))
                .collect(),
        ),
        Item::ArrayOfTables(tables) => Value::Array(
            tables
                .iter()
                .map(|table| {
                    Value::Object(
                        table
                            .iter()
                            .map(|(key, item)| (key.to_owned(), item_to_json(item)))
                            .collect(),
                    )
                })
                .collect(),
        ),
        Item::None => Value::Null,
    }
}

fn value_to_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(text) => Value::String(text.value().clone()),
        toml_edit::Value::Integer(int) => Value::from(*int.value()),
        toml_edit::Value::Float(float) => Value::from(*float.value()),
        toml_edit::Value::Boolean(flag) => Value::Bool(*flag.value()),
        toml_edit::Value::Datetime(datetime) => Value::String(datetime.value().to_string()),
        toml_edit::Value::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        toml_edit::Value::InlineTable(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.to_owned(), value_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(command: &str) -> Entry {
        vec![
            ("command".to_owned(), json!(command)),
            ("args".to_owned(), json!(["--name", "codex"])),
        ]
    }

    fn set(text: &str, command: &str) -> String {
        TomlDoc::parse(text)
            .unwrap()
            .set_member(&["mcp_servers"], "exai", &entry(command))
            .unwrap()
    }

    #[test]
    fn an_empty_file_gets_one_table() {
        assert_eq!(
            set("", "/usr/bin/exai-shim"),
            "[mcp_servers.exai]\ncommand = \"/usr/bin/exai-shim\"\nargs = [\"--name\", \"codex\"]\n"
        );
    }

    const CODEX: &str = "# my Codex settings\nmodel = \"o3\"  # the model\n\n[mcp_servers.memory]\ncommand = \"npx\"\nargs = [ \"-y\",   \"@modelcontextprotocol/server-memory\" ]  # spaced\n\n# profiles below\n[profiles.fast]\nmodel = \"o4-mini\"\n";

    #[test]
    fn other_tables_and_comments_are_kept_byte_for_byte() {
        let after = set(CODEX, "/usr/bin/exai-shim");
        let at = CODEX.find("\n# profiles below").unwrap();
        let table = "\n[mcp_servers.exai]\ncommand = \"/usr/bin/exai-shim\"\nargs = [\"--name\", \"codex\"]\n";
        // toml_edit puts a new table after its siblings; everything else is untouched.
        assert_eq!(
            after,
            format!("{}{table}{}", &CODEX[..at], &CODEX[at..]),
            "{after}"
        );
        assert_eq!(set(&after, "/usr/bin/exai-shim"), after, "idempotent");
    }

    #[test]
    fn a_stale_entry_gets_new_values_and_keeps_its_env() {
        let before = "[mcp_servers.exai]\ncommand = \"/home/me/exai/target/debug/exai-shim\" # old\nargs = []\nenv = { EXAI_AUTOSTART = \"hub\" }\n";
        let after = set(before, "/usr/bin/exai-shim");
        assert_eq!(
            after,
            "[mcp_servers.exai]\ncommand = \"/usr/bin/exai-shim\" # old\nargs = [\"--name\", \"codex\"]\nenv = { EXAI_AUTOSTART = \"hub\" }\n"
        );
        let doc = TomlDoc::parse(&after).unwrap();
        let members = doc.members(&["mcp_servers"]).unwrap().unwrap();
        assert_eq!(members[0].1["env"], json!({ "EXAI_AUTOSTART": "hub" }));
    }

    #[test]
    fn an_inline_servers_table_stays_inline() {
        let after = set("mcp_servers = { memory = { command = \"npx\" } }\n", "x");
        let doc = TomlDoc::parse(&after).unwrap();
        let members = doc.members(&["mcp_servers"]).unwrap().unwrap();
        assert_eq!(members.len(), 2, "{after}");
        assert!(
            after.starts_with("mcp_servers = { memory = { command = \"npx\" }"),
            "{after}"
        );
    }

    #[test]
    fn invalid_toml_is_refused_with_its_line() {
        let err = TomlDoc::parse("model = \"o3\"\n[mcp_servers.exai\ncommand = 1\n")
            .err()
            .unwrap();
        assert!(err.starts_with("line 2, column "), "{err}");
        assert!(!err.contains('\n') && !err.contains('|'), "{err}");
        let err = TomlDoc::parse("mcp_servers = 3\n")
            .unwrap()
            .set_member(&["mcp_servers"], "exai", &entry("x"))
            .unwrap_err();
        assert_eq!(err, "mcp_servers is not a table");
    }
}
