//! Tests of `scan`: it accepts exactly what `serde_json` accepts when it skips a value, and its
//! members and items are the values `serde_json` reads.

use super::*;
use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

/// What `serde_json` says of `text` as one object of raw members (duplicates allowed).
fn serde_members(text: &str) -> Option<Vec<(String, String)>> {
    struct Members(Vec<(String, String)>);
    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Members;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Members, A::Error> {
                    let mut members = Vec::new();
                    while let Some((key, value)) = map.next_entry::<String, &RawValue>()? {
                        members.push((key, value.get().to_owned()));
                    }
                    Ok(Members(members))
                }
            }
            deserializer.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Members>(text)
        .ok()
        .map(|members| members.0)
}

fn scanned(text: &str) -> Option<Vec<(String, String)>> {
    object(text, "outputs").ok().map(|members| {
        members
            .into_iter()
            .map(|member| (member.key.into_owned(), member.value.to_owned()))
            .collect()
    })
}

/// JSON-ish text: valid JSON now and then, and every way of being almost JSON.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"",
        "\\",
        "\\u",
        "\\ud83d",
        "\\uZZ",
        "\\n",
        "\\x",
        "a",
        "é",
        "0",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "1E+2",
        "-0.5e-3",
        "true",
        "tru",
        "null",
        "false",
        "\u{1}",
        "\t",
        "\"op\"",
        "\"outputs\"",
        "\"text\"",
        "\"type\"",
    ]);
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.concat())
}

/// Valid JSON values, including the keys the hub reads and strings with every escape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        "(.|\n|\"|\\\\|\u{1}){0,20}".prop_map(Value::String),
    ];
    let key = prop::sample::select(vec!["outputs", "op", "type", "text", "k", "é\"\n"]);
    leaf.prop_recursive(5, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// On anything, the scanner accepts exactly what serde_json accepts, with the same members.
    #[test]
    fn agrees_with_serde_json_on_anything(body in jsonish(), wrap: bool) {
        let text = if wrap { format!("{{\"k\":{body}}}") } else { body };
        prop_assert_eq!(scanned(&text), serde_members(&text), "{:?}", text);
    }

    /// On valid JSON, written compact or pretty, the same members and the items of `outputs`.
    #[test]
    fn reads_valid_objects_as_serde_json_does(value in json_value(), pretty: bool, outputs in json_value()) {
        let mut value = value;
        if let Value::Object(map) = &mut value {
            map.insert("outputs".to_owned(), outputs);
        }
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        prop_assert_eq!(scanned(&text), serde_members(&text));
        if let Ok(members) = object(&text, "outputs") {
            for member in members {
                let items = serde_json::from_str::<Vec<&RawValue>>(member.value).ok();
                match (&member.items, member.key == "outputs") {
                    (Some(found), true) => {
                        let items = items.expect("an array");
                        prop_assert_eq!(found.len(), items.len());
                        for (found, item) in found.iter().zip(items) {
                            prop_assert_eq!(found.json, item.get());
                            let members = found.members.as_ref().map(|members| {
                                members
                                    .as_ref()
                                    .unwrap()
                                    .iter()
                                    .map(|member| (member.key.to_string(), member.value.to_owned()))
                                    .collect::<Vec<_>>()
                            });
                            prop_assert_eq!(members, serde_members(item.get()));
                        }
                    }
                    (None, true) => prop_assert!(items.is_none()),
                    (_, false) => {}
                }
            }
        }
    }

    /// Long strings are read whichever byte ends them, wherever it falls among the lanes.
    #[test]
    fn finds_the_end_of_long_strings(
        len in 0usize..200,
        stop in prop::sample::select(vec!['"', '\\', '\u{0}', '\u{1f}', '\n', ' ', 'é', '\u{7f}']),
    ) {
        let body: String = "aé✓".chars().cycle().take(len).collect();
        let text = format!("{{\"k\":\"{body}{stop}\"}}");
        prop_assert_eq!(scanned(&text), serde_members(&text), "{:?}", text);
        let bytes = text.as_bytes();
        for start in 0..bytes.len().min(70) {
            let expected = bytes[start..].iter().position(|&byte| is_special(byte));
            prop_assert_eq!(find_special(&bytes[start..]), expected);
            prop_assert_eq!(find_special_in_words(&bytes[start..]), expected);
        }
    }
}

#[test]
fn awkward_objects() {
    for text in [
        "{}",
        " {\"a\" : 1 , \"b\":[] ,\"c\":{}}\n",
        "{\"a\":01}",
        "{\"a\":1,}",
        "{\"a\":[1,]}",
        "{\"a\":\"\\ud800\"}",
        "{\"\\ud800\":1}",
        "{\"\\u006fp\":\"x\"}",
        "{\"a\":1}x",
        "{\"a\":-}",
        "{\"a\":1.e5}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "[1]",
        "",
        "{\"a\":\"tab\there\"}",
    ] {
        assert_eq!(scanned(text), serde_members(text), "{text:?}");
    }
    // Deeper than serde_json's recursion limit: skipped without recursion, as serde_json skips.
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(scanned(&deep), serde_members(&deep));
    assert!(scanned(&deep).is_some());
    let members = object(
        "{\"\\u006futputs\":[\"a\",{\"type\":\"text\",\"type\":1}]}",
        "outputs",
    )
    .unwrap();
    assert_eq!(members[0].key, "outputs");
    let items = members[0].items.as_ref().unwrap();
    assert_eq!(items[0].json, "\"a\"");
    assert_eq!(
        items[1].members.as_ref().unwrap().as_ref().unwrap().len(),
        2
    );
    // A key that cannot be decoded spoils its item, not the frame.
    let members = object("{\"outputs\":[{\"\\ud800\":1}],\"op\":2}", "outputs").unwrap();
    assert_eq!(
        members[0].items.as_ref().unwrap()[0].members,
        Some(Err(Invalid))
    );
    assert_eq!(members[1].value, "2");
}
