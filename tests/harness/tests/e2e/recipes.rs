//! The platform recipes (docs/clients/*.md) against the contract: every
//! route, every field (a quoted `snake_case` name) and every problem type a
//! recipe names is in docs/openapi.yaml, so that a recipe cannot drift from
//! the API it calls. Each recipe must name `POST /users`, `expires_in` and a
//! problem type, so that the check cannot pass by finding nothing.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::openapi::document;
use crate::support::root;

const PROBLEM: &str = "urn:rollee-connect:problem:";

/// A path with each parameter, however a language interpolates it
/// (`{user_id}`, `$userId`, `${userId}`, `\(userId)`), as `{}`.
fn routes_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut scanned_to = 0;
    for (start, _) in text.match_indices('/') {
        let rest = &text[start..];
        if start < scanned_to
            || !["/users", "/sessions", "/accounts", "/webhooks"]
                .iter()
                .any(|p| rest.starts_with(p))
            || after_a_host(&text[..start])
        {
            continue;
        }
        let bytes = rest.as_bytes();
        let after =
            |i: usize, close: char| rest[i..].find(close).map_or(bytes.len(), |p| i + p + 1);
        let mut path = String::new();
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1)) {
                (b'\\', Some(b'(')) => {
                    i = after(i, ')');
                    path.push_str("{}");
                }
                (b'$', Some(b'{')) | (b'{', _) => {
                    i = after(i, '}');
                    path.push_str("{}");
                }
                (b'$', _) => {
                    i += 1;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                    {
                        i += 1;
                    }
                    path.push_str("{}");
                }
                (c, _) if c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-') => {
                    path.push(char::from(c));
                    i += 1;
                }
                _ => break,
            }
        }
        scanned_to = start + i;
        found.insert(path.trim_end_matches('/').to_owned());
    }
    found
}

/// Whether a path is part of another URL (`https://x.example/users`): it
/// follows a name that is no interpolation (`$baseUrl/users` is a route).
fn after_a_host(before: &str) -> bool {
    let word = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let interpolated = word.ends_with('$') && word.len() < before.len();
    !interpolated && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

/// Quoted names made of lowercase words joined by `_`, line by line (no
/// string literal of these languages spans lines): the JSON fields.
fn fields_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        for quote in ['"', '\''] {
            for (i, piece) in line.split(quote).enumerate() {
                let snake = piece.contains('_')
                    && piece
                        .split('_')
                        .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
                if i % 2 == 1 && snake {
                    found.insert(piece.to_owned());
                }
            }
        }
    }
    found
}

/// The fenced code of a recipe.
fn code_of(text: &str) -> String {
    text.split("```")
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join("\n")
}

fn problem_types_in(text: &str) -> BTreeSet<String> {
    text.match_indices(PROBLEM)
        .map(|(i, _)| {
            let slug: String = text[i + PROBLEM.len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            format!("{PROBLEM}{slug}")
        })
        .filter(|t| t.len() > PROBLEM.len())
        .collect()
}

#[test]
fn every_route_field_and_problem_type_a_recipe_names_is_in_the_document() {
    let doc = document();
    let routes: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| routes_in(p).into_iter().next().unwrap())
        .collect();
    let fields: BTreeSet<String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|s| s.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    let types: BTreeSet<String> =
        doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    assert!(routes.contains("/users/{}/sessions"), "{routes:?}");

    let dir = root().join("docs/clients");
    let mut recipes: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    recipes.sort();
    let names: Vec<String> = recipes
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["android", "flutter", "ios", "react-native"]);

    for recipe in &recipes {
        let text = std::fs::read_to_string(recipe).unwrap();
        let name = recipe.display();
        let (r, f, t) = (
            routes_in(&text),
            fields_in(&code_of(&text)),
            problem_types_in(&text),
        );
        assert!(r.contains("/users"), "{name} names no POST /users: {r:?}");
        assert!(
            text.contains("expires_in"),
            "{name} does not count from expires_in"
        );
        assert!(!t.is_empty(), "{name} names no problem type");
        for route in &r {
            assert!(
                routes.contains(route),
                "{name}: {route} is no route of openapi.yaml"
            );
        }
        for field in &f {
            assert!(
                fields.contains(field),
                "{name}: \"{field}\" is no field of openapi.yaml"
            );
        }
        for problem in &t {
            assert!(
                types.contains(problem),
                "{name}: {problem} is no problem type of openapi.yaml"
            );
        }
    }
}

#[test]
fn the_scanners_find_what_each_language_writes() {
    let swift = r#"post("/users/\(userId)/sessions", ["connect_url": u]) case a = "expires_in""#;
    assert_eq!(
        routes_in(swift),
        BTreeSet::from(["/users/{}/sessions".to_owned()])
    );
    assert_eq!(
        fields_in(swift),
        BTreeSet::from(["connect_url".to_owned(), "expires_in".to_owned()])
    );
    let kotlin = r#"url("$baseUrl/sessions/refresh") "$api/users/$userId/sessions" 'user_id'"#;
    assert_eq!(
        routes_in(kotlin),
        BTreeSet::from([
            "/sessions/refresh".to_owned(),
            "/users/{}/sessions".to_owned()
        ])
    );
    assert_eq!(fields_in(kotlin), BTreeSet::from(["user_id".to_owned()]));
    let prose = "`POST /users/{user_id}/sessions` and https://x.example/users and /user";
    assert_eq!(
        routes_in(prose),
        BTreeSet::from(["/users/{}/sessions".to_owned()])
    );
    assert_eq!(
        problem_types_in("'urn:rollee-connect:problem:not-found' urn:rollee-connect:problem:"),
        BTreeSet::from(["urn:rollee-connect:problem:not-found".to_owned()])
    );
}
