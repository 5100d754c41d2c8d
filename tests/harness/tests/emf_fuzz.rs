//! The metric line builder (`rollee_shared::metrics`), fed arbitrary strings
//! and numbers, against the independent EMF rules of `rollee_harness::emf`:
//! CloudWatch drops a malformed line without a word, and the alarms on its
//! metrics go quiet. Deterministic: a fixed seed, so a failure repeats.
//!
//! Strings: every kind of character JSON must escape (control characters,
//! quotes, backslashes) or may carry as is (`/`, DEL, U+2028, non-ASCII up to
//! U+10FFFF; a Rust string holds no lone surrogate). Dimension values are kept
//! to what CloudWatch accepts of one (ASCII, not blank: the emitter's callers
//! pass fixed lists), the namespace, the request id and the trace id are not.
//! Numbers: the edges of `f64` (±0, subnormals, the largest, ±infinity, NaN,
//! the 1e15 switch from rounded to as-is), random bit patterns, and the
//! milliseconds and counts the functions really write. (The rules checked do
//! not include CloudWatch's range of ±2^360 for a value, which nothing the
//! functions measure comes near.)

use rollee_harness::emf;
use rollee_shared::metrics::catalogue::{ALL, FUNCTION};
use rollee_shared::metrics::{Emitter, Group, Invocation};

const LINES: usize = 5_000;
const SEED: u64 = 0x00e3_f5a2_2026_0026;

/// One character JSON must escape, may carry as is, or anything valid.
fn char_of(rng: &mut fastrand::Rng, ascii_only: bool) -> char {
    const SPECIAL: &[char] = &[
        '"', '\\', '/', '\u{0}', '\u{1}', '\u{8}', '\u{c}', '\n', '\r', '\t', '\u{1f}', '\u{7f}',
        ' ', '{', '}', '[', ']', ':', ',',
    ];
    const WIDE: &[char] = &[
        'é',
        '\u{80}',
        '\u{2028}',
        '\u{2029}',
        '\u{feff}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{d7ff}',
        '\u{e000}',
        '😀',
        '\u{10ffff}',
    ];
    match rng.u8(0..10) {
        0..=3 => SPECIAL[rng.usize(..SPECIAL.len())],
        4..=6 => char::from(rng.u8(0..0x80)),
        _ if ascii_only => char::from(rng.u8(0x20..0x7f)),
        7 => WIDE[rng.usize(..WIDE.len())],
        // Any scalar value: `from_u32` refuses the surrogates.
        _ => loop {
            if let Some(c) = char::from_u32(rng.u32(0..=0x10_ffff)) {
                break c;
            }
        },
    }
}

fn string_of(rng: &mut fastrand::Rng, ascii_only: bool) -> String {
    let len = rng.usize(0..40);
    (0..len).map(|_| char_of(rng, ascii_only)).collect()
}

/// What CloudWatch takes as a dimension value: ASCII, not blank, ≤ 1024 bytes.
fn dimension_value(rng: &mut fastrand::Rng) -> String {
    let mut value = string_of(rng, true);
    if value.trim().is_empty() {
        value.push('x');
    }
    value
}

fn number_of(rng: &mut fastrand::Rng) -> f64 {
    const EDGES: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.0005,
        -0.0005,
        0.0004999,
        1e-7,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        999_999_999_999_999.9,
        1e15,
        -1e15,
        1e15 + 0.5,
        9_007_199_254_740_993.0,
        9.223_372_036_854_776e18,
        -9.223_372_036_854_776e18,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    match rng.u8(0..4) {
        0 => EDGES[rng.usize(..EDGES.len())],
        // Any bit pattern: NaNs, infinities, subnormals included.
        1 => f64::from_bits(rng.u64(..)),
        // Milliseconds, as the functions measure them.
        2 => rng.f64() * 10f64.powi(rng.i32(-3..6)),
        // Counts.
        _ => f64::from(rng.u32(0..1000)),
    }
}

/// What a value is once written: 0 for what JSON cannot carry, rounded to
/// the microsecond below 1e15, as is above.
fn expected(value: f64) -> f64 {
    if !value.is_finite() {
        0.0
    } else if value.abs() < 1e15 {
        (value * 1000.0).round() / 1000.0
    } else {
        value
    }
}

#[test]
fn arbitrary_strings_and_numbers_make_valid_metric_lines() {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (mut non_finite, mut non_ascii, mut escaped) = (0, 0, 0);
    for n in 0..LINES {
        let namespace = string_of(&mut rng, false);
        let function = dimension_value(&mut rng);
        let emitter = Emitter::hook(&namespace, &function, |_| {});

        // One to three distinct groups of the catalogue.
        let mut groups: Vec<&Group> = Vec::new();
        for _ in 0..rng.usize(1..=3) {
            let group = ALL[rng.usize(..ALL.len())];
            if !groups.iter().any(|g| std::ptr::eq(*g, group)) {
                groups.push(group);
            }
        }
        let mut names: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.dimension_sets.iter().flat_map(|set| set.iter().copied()))
            .filter(|name| *name != FUNCTION)
            .collect();
        names.sort_unstable();
        names.dedup();
        let dimensions: Vec<(&str, String)> = names
            .iter()
            .map(|name| (*name, dimension_value(&mut rng)))
            .collect();
        let values: Vec<(&str, f64)> = groups
            .iter()
            .flat_map(|g| g.metrics.iter())
            .map(|m| (m.name, number_of(&mut rng)))
            .collect();
        let invocation = rng.bool().then(|| Invocation {
            request_id: string_of(&mut rng, false),
            xray_trace_id: rng.bool().then(|| string_of(&mut rng, false)),
        });

        let borrowed: Vec<(&str, &str)> =
            dimensions.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let line = emitter.line(&groups, &borrowed, &values, invocation.as_ref());

        let context = || format!("line {n}: {line:?}");
        assert!(line.ends_with("}\n"), "{}", context());
        assert_eq!(line.matches('\n').count(), 1, "{}", context());
        assert!(emf::is_metric_line(&line), "{}", context());
        let doc = emf::check(&line, &namespace).unwrap_or_else(|e| panic!("{e}: {}", context()));

        assert_eq!(doc.root[FUNCTION], function.as_str(), "{}", context());
        for (name, value) in &dimensions {
            assert_eq!(doc.root[*name], value.as_str(), "{}", context());
        }
        for group in &groups {
            for metric in group.metrics {
                for set in group.dimension_sets {
                    let named: Vec<(&str, &str)> = set
                        .iter()
                        .map(|name| (*name, doc.root[*name].as_str().unwrap()))
                        .collect();
                    assert!(doc.publishes(metric.name, &named), "{}", context());
                }
            }
        }
        for (name, value) in &values {
            let written = doc.value(name).unwrap();
            let want = expected(*value);
            // Written as the shortest digits that read back as the same f64;
            // serde_json's reader (without its `float_roundtrip` feature) can
            // land one unit in the last place off on long exponents.
            assert!(
                (written - want).abs() <= want.abs() * 2.0 * f64::EPSILON,
                "{name}: {value:e} written as {written:e}, not {want:e}: {}",
                context()
            );
            non_finite += usize::from(!value.is_finite());
        }
        match &invocation {
            Some(i) => {
                assert_eq!(
                    doc.root["requestId"],
                    i.request_id.as_str(),
                    "{}",
                    context()
                );
                match &i.xray_trace_id {
                    Some(t) => assert_eq!(doc.root["xrayTraceId"], t.as_str(), "{}", context()),
                    None => assert!(doc.root.get("xrayTraceId").is_none(), "{}", context()),
                }
            }
            None => assert!(doc.root.get("requestId").is_none(), "{}", context()),
        }
        non_ascii += usize::from(!line.is_ascii());
        escaped += usize::from(line.contains("\\u00"));
    }
    // The generator did reach the cases that matter.
    assert!(
        non_finite > 100 && non_ascii > 1000 && escaped > 1000,
        "{non_finite} {non_ascii} {escaped}"
    );
}
