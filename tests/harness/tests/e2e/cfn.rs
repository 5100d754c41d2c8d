//! The template read as CloudFormation reads it, for the tests: a value's
//! short form, resources by type, parameter values, conditions, and a value
//! with its `!If`s resolved.

use std::collections::BTreeMap;

use serde_norway::Value as Yaml;

/// `!Tag value` as the template writes it, e.g. "!Ref RolleeSecretArn".
pub(crate) fn short_form(value: &Yaml) -> String {
    serde_norway::to_string(value).unwrap().trim().to_owned()
}

/// The logical ids of the template's resources of type `kind`.
pub(crate) fn resources_of_type(t: &Yaml, kind: &str) -> Vec<String> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect()
}

/// The parameter values of a deploy that sets `overrides` and leaves the
/// rest at their defaults (parameters without one are absent).
pub(crate) fn parameters(t: &Yaml, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (name, p) in t["Parameters"].as_mapping().unwrap() {
        let default = match &p["Default"] {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Null => continue,
            other => panic!("default of {name:?}: {other:?}"),
        };
        values.insert(name.as_str().unwrap().to_owned(), default);
    }
    for (name, value) in overrides {
        assert!(
            values.contains_key(*name),
            "no parameter {name} with a default"
        );
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
}

/// Whether the template's condition `name` holds for these parameter values.
/// Evaluates what the conditions under test use: !Not, !And, !Or, !Equals,
/// !Condition, and operands [`evaluate`] reads; anything else fails the test.
pub(crate) fn condition(t: &Yaml, name: &str, params: &BTreeMap<String, String>) -> bool {
    fn holds(v: &Yaml, t: &Yaml, params: &BTreeMap<String, String>) -> bool {
        let Yaml::Tagged(f) = v else {
            panic!("condition {v:?}")
        };
        let args = f.value.as_sequence();
        if f.tag == "Not" {
            !holds(&args.unwrap()[0], t, params)
        } else if f.tag == "And" {
            args.unwrap().iter().all(|a| holds(a, t, params))
        } else if f.tag == "Or" {
            args.unwrap().iter().any(|a| holds(a, t, params))
        } else if f.tag == "Equals" {
            let args = args.unwrap();
            evaluate(&args[0], t, params) == evaluate(&args[1], t, params)
        } else if f.tag == "Condition" {
            condition(t, f.value.as_str().unwrap(), params)
        } else {
            panic!("condition function {f:?}")
        }
    }
    let definition = &t["Conditions"][name];
    assert!(!definition.is_null(), "no condition {name}");
    holds(definition, t, params)
}

/// A scalar operand: a literal, !Ref of a parameter, !Select of !Split, or
/// !Join of a list (of operands, or a CommaDelimitedList parameter's !Ref).
pub(crate) fn evaluate(v: &Yaml, t: &Yaml, params: &BTreeMap<String, String>) -> String {
    list_or_scalar(v, t, params).join(",")
}

fn list_or_scalar(v: &Yaml, t: &Yaml, params: &BTreeMap<String, String>) -> Vec<String> {
    match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Number(n) => vec![n.to_string()],
        Yaml::Tagged(f) if f.tag == "Ref" => {
            let name = f.value.as_str().unwrap();
            let value = params[name].clone();
            if t["Parameters"][name]["Type"].as_str() == Some("CommaDelimitedList") {
                value.split(',').map(str::to_owned).collect()
            } else {
                vec![value]
            }
        }
        Yaml::Tagged(f) if f.tag == "Join" => {
            let args = f.value.as_sequence().unwrap();
            let sep = args[0].as_str().unwrap();
            let items: Vec<String> = match &args[1] {
                Yaml::Sequence(items) => items.iter().map(|i| evaluate(i, t, params)).collect(),
                other => list_or_scalar(other, t, params),
            };
            vec![items.join(sep)]
        }
        Yaml::Tagged(f) if f.tag == "Split" => {
            let args = f.value.as_sequence().unwrap();
            let sep = args[0].as_str().unwrap();
            evaluate(&args[1], t, params)
                .split(sep)
                .map(str::to_owned)
                .collect()
        }
        Yaml::Tagged(f) if f.tag == "Select" => {
            let args = f.value.as_sequence().unwrap();
            let index = args[0].as_u64().unwrap() as usize;
            let list = list_or_scalar(&args[1], t, params);
            vec![
                list.get(index)
                    .unwrap_or_else(|| panic!("!Select {index} of {list:?}"))
                    .clone(),
            ]
        }
        other => panic!("operand {other:?}"),
    }
}

/// `v` as CloudFormation sees it for these parameter values: each !If replaced
/// by its chosen branch, !Ref AWS::NoValue removed (None when `v` itself is).
/// Every other intrinsic function is kept as written.
pub(crate) fn resolve(v: &Yaml, t: &Yaml, params: &BTreeMap<String, String>) -> Option<Yaml> {
    match v {
        Yaml::Tagged(f) if f.tag == "If" => {
            let args = f.value.as_sequence().unwrap();
            assert_eq!(args.len(), 3, "{f:?}");
            let chosen = if condition(t, args[0].as_str().unwrap(), params) {
                &args[1]
            } else {
                &args[2]
            };
            resolve(chosen, t, params)
        }
        Yaml::Tagged(f) if f.tag == "Ref" && f.value.as_str() == Some("AWS::NoValue") => None,
        Yaml::Sequence(items) => Some(Yaml::Sequence(
            items.iter().filter_map(|i| resolve(i, t, params)).collect(),
        )),
        Yaml::Mapping(entries) => Some(Yaml::Mapping(
            entries
                .iter()
                .filter_map(|(k, v)| resolve(v, t, params).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

pub(crate) fn yaml(text: &str) -> Yaml {
    serde_norway::from_str(text).unwrap()
}
