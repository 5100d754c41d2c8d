//! Taking a User's Connect session out of a webhook's body before it is
//! published, wherever it sits, with a bounded record of where it was.

use serde_json::{Map, Value};

use super::event::SESSION_FIELDS;

/// Removes [`SESSION_FIELDS`] from `body`, wherever they sit; where they
/// were is returned (see [`super::event::Event::redact`]).
pub(super) fn redact(body: &mut Map<String, Value>) -> Redacted {
    let mut redacted = Redacted::default();
    for field in SESSION_FIELDS {
        if body.remove(field).is_some() {
            redacted.record(&Step::Key(None, field));
        }
    }
    for (key, value) in body.iter_mut() {
        walk(value, &Step::Key(None, key), &mut redacted);
    }
    redacted
}

/// At most this many paths are listed in [`super::event::Detail::redacted`].
pub const MAX_REDACTED_PATHS: usize = 16;
/// A listed path longer than this is cut (at a character boundary) and ends with `…`.
pub const MAX_REDACTED_PATH_LEN: usize = 256;

/// Where session fields were removed from a body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The first [`MAX_REDACTED_PATHS`] paths, e.g. `data.session`.
    pub paths: Vec<String>,
    /// How many fields were removed in all.
    pub count: usize,
}

impl Redacted {
    fn record(&mut self, step: &Step<'_>) {
        self.count += 1;
        if self.paths.len() < MAX_REDACTED_PATHS {
            self.paths.push(step.path());
        }
    }
}

/// One step of the way from the body's top to a value: the steps are on
/// the call stack of the walk, each pointing at the one above it.
enum Step<'a> {
    /// A field of the object above, or (`None`) of the body itself.
    Key(Option<&'a Step<'a>>, &'a str),
    Index(&'a Step<'a>, usize),
}

impl Step<'_> {
    /// `data.users.0.session`, at most [`MAX_REDACTED_PATH_LEN`] bytes.
    fn path(&self) -> String {
        let mut steps = Vec::new();
        let mut step = Some(self);
        while let Some(s) = step {
            steps.push(s);
            step = match s {
                Step::Key(up, _) => *up,
                Step::Index(up, _) => Some(*up),
            };
        }
        let mut path = String::new();
        for (i, step) in steps.iter().rev().enumerate() {
            if i > 0 {
                path.push('.');
            }
            match step {
                Step::Key(_, key) => path.push_str(key),
                Step::Index(_, index) => path.push_str(&index.to_string()),
            }
            if path.len() > MAX_REDACTED_PATH_LEN {
                break;
            }
        }
        if path.len() > MAX_REDACTED_PATH_LEN {
            let mut end = MAX_REDACTED_PATH_LEN - '…'.len_utf8();
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            path.truncate(end);
            path.push('…');
        }
        path
    }
}

/// Removes [`SESSION_FIELDS`] from `value` and everything in it; `at` is
/// where `value` sits. Recursion is bounded by the parser's nesting limit.
fn walk(value: &mut Value, at: &Step<'_>, redacted: &mut Redacted) {
    match value {
        Value::Object(map) => {
            for field in SESSION_FIELDS {
                if map.remove(field).is_some() {
                    redacted.record(&Step::Key(Some(at), field));
                }
            }
            for (key, inner) in map.iter_mut() {
                walk(inner, &Step::Key(Some(at), key), redacted);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter_mut().enumerate() {
                walk(inner, &Step::Index(at, i), redacted);
            }
        }
        _ => {}
    }
}
