//! The learner's "why", computed from event data in one place: where a value stops matching
//! its regex, what an exact or prefix match disagreed on, which `retryOn` values would have
//! retried an outcome. Text and HTML both print these; JSON carries the events they come from.

use crate::resilience::retry::{RETRY_ON_VALUES, RetryPolicy, UpstreamResult};
use crate::trace::{ConditionMismatch, MatchKind, NoRetryReason, TraceEvent, TryOutcome};
use regex_automata::hybrid::dfa::DFA;
use regex_automata::{Anchored, Input};

/// The reasons worth adding under an event (none for most).
pub fn of(e: &TraceEvent) -> Vec<String> {
    match e {
        TraceEvent::RouteTried {
            mismatch: Some(m), ..
        } => mismatch(m).into_iter().collect(),
        TraceEvent::NotRetried {
            reason: NoRetryReason::NotCovered { retry_on, .. },
            outcome,
        } => defaults(retry_on)
            .into_iter()
            .chain(would_retry(*outcome))
            .collect(),
        _ => Vec::new(),
    }
}

fn mismatch(m: &ConditionMismatch) -> Option<String> {
    if m.invert {
        return None;
    }
    let found = m.found.as_deref()?;
    let expected = m.expected.value.as_deref()?;
    match m.expected.kind {
        MatchKind::Regex => regex_failure(expected, found),
        MatchKind::PathSeparatedPrefix => segment_miss(found, expected, m),
        MatchKind::Exact | MatchKind::Prefix => near_miss(found, expected, m),
        MatchKind::Present => None,
    }
}

/// A path prefix that the path starts with, but not on a segment boundary (`/v2beta` under
/// `/v2`); otherwise as for a plain prefix.
fn segment_miss(found: &str, expected: &str, m: &ConditionMismatch) -> Option<String> {
    let path = found.split(['?', '#']).next().unwrap_or(found);
    match path.strip_prefix(expected) {
        Some(rest) if !rest.is_empty() => Some(format!(
            "the path starts with {expected:?} but continues with {:?}, not `/`: the Gateway API's PathPrefix matches whole path segments (`{expected}` and `{expected}/...`)",
            &rest[..rest.chars().next().map_or(0, char::len_utf8)]
        )),
        _ => near_miss(found, expected, m),
    }
}

/// An exact or prefix match that nearly held: only the case differs, or the value shares at
/// least half of the expected string before it departs. (A value unlike the string needs no
/// explanation.)
fn near_miss(found: &str, expected: &str, m: &ConditionMismatch) -> Option<String> {
    if found == expected {
        return None;
    }
    let case_only = if m.expected.kind == MatchKind::Exact {
        found.eq_ignore_ascii_case(expected)
    } else {
        found.len() >= expected.len()
            && found.is_char_boundary(expected.len())
            && found[..expected.len()].eq_ignore_ascii_case(expected)
    };
    if case_only && !m.expected.ignore_case {
        return Some("only the case differs, and this match is case-sensitive".into());
    }
    let common = found
        .chars()
        .zip(expected.chars())
        .take_while(|(a, b)| a == b || (m.expected.ignore_case && a.eq_ignore_ascii_case(b)))
        .count();
    let want_len = expected.chars().count();
    if common < 2 || common * 2 < want_len {
        return None;
    }
    let agreed: String = found.chars().take(common).collect();
    let rest: String = found.chars().skip(common).collect();
    let want: String = expected.chars().skip(common).collect();
    Some(match (rest.is_empty(), want.is_empty()) {
        (true, false) => {
            format!("the value ends after {agreed:?}, where {want:?} is still expected")
        }
        (false, true) => format!("{agreed:?} matches, then the value goes on with {rest:?}"),
        _ => {
            format!("both begin {agreed:?}, then the value has {rest:?} where {want:?} is expected")
        }
    })
}

/// Where an anchored full match of `pattern` gives up on `value` (Envoy's `safe_regex` must
/// match the whole value): read from the start by RE2's automaton, the first character after
/// which no continuation can match; failing that, the one character whose removal would make
/// the value match. The tutorial's `^(.*?;)?(usertype=tester)(;.*)?$` against a browser's
/// `a=1; usertype=tester` never dies from the start (`.*?` takes anything), but matches without
/// the space after `;`.
fn regex_failure(pattern: &str, value: &str) -> Option<String> {
    let full = format!(r"\A(?:{pattern})\z");
    let forward = DFA::new(&full).ok()?;
    let bytes = value.as_bytes();
    if let Some(i) = dead_at(&forward, value, bytes.iter().copied().enumerate())? {
        let i = char_start(value, i);
        return Some(format!(
            "the regex accepts {:?} but nothing that goes on with {:?} (character {}); a safe_regex must match the whole value",
            &value[..i],
            value[i..].chars().next().unwrap_or(' '),
            value[..i].chars().count() + 1
        ));
    }
    if let Some((i, c)) = one_too_many(&full, value) {
        return Some(format!(
            "it would match without the {c:?} after {:?} (character {}): the regex allows no {c:?} there",
            &value[..i],
            value[..i].chars().count() + 1
        ));
    }
    Some(format!(
        "{value:?} could be the start of a match, but it ends too early; a safe_regex must match the whole value"
    ))
}

/// The first character whose removal makes `value` match the anchored `full` regex, for
/// values short enough to try each (a header's typical few hundred bytes).
fn one_too_many(full: &str, value: &str) -> Option<(usize, char)> {
    if value.len() > 512 {
        return None;
    }
    let re = regex::Regex::new(full).ok()?;
    value.char_indices().find_map(|(i, c)| {
        let without = format!("{}{}", &value[..i], &value[i + c.len_utf8()..]);
        re.is_match(&without).then_some((i, c))
    })
}

/// The byte at which the automaton, fed `bytes` in order, can no longer reach a match
/// (`Some(None)`: it never gives up; `None`: the automaton could not be built or run, e.g. a
/// Unicode word boundary, which the lazy DFA does not support).
fn dead_at(
    dfa: &DFA,
    value: &str,
    bytes: impl Iterator<Item = (usize, u8)>,
) -> Option<Option<usize>> {
    let mut cache = dfa.create_cache();
    let input = Input::new(value).anchored(Anchored::Yes);
    let mut sid = dfa.start_state_forward(&mut cache, &input).ok()?;
    for (i, b) in bytes {
        sid = dfa.next_state(&mut cache, sid, b).ok()?;
        if sid.is_dead() {
            return Some(Some(i));
        }
    }
    Some(None)
}

/// The start of the character that byte `i` belongs to.
fn char_start(s: &str, i: usize) -> usize {
    (0..=i.min(s.len()))
        .rev()
        .find(|&k| s.is_char_boundary(k))
        .unwrap_or(0)
}

/// Whether a policy's conditions are Istio's defaults: a route without `retryOn` has them,
/// and a learner rarely knows what they are.
fn defaults(retry_on: &[String]) -> Option<String> {
    let d = crate::compile::retry::default_policy(crate::compile::IstioVersion::NEWEST, false);
    (retry_on == d.retry_on.as_slice()).then(|| {
        format!(
            "{} are Istio's default conditions, what a route gets when its retries set no retryOn",
            d.retry_on.join(", ")
        )
    })
}

/// The `retryOn` values under which Envoy would have retried this outcome, each judged by the
/// same rule the simulation applies (`RetryPolicy::retry_condition`).
fn would_retry(outcome: TryOutcome) -> Option<String> {
    let r = UpstreamResult::from(outcome);
    if matches!(r, UpstreamResult::Status(s) if s < 500) {
        return None;
    }
    let covering: Vec<&str> = RETRY_ON_VALUES
        .iter()
        .copied()
        .filter(|v| {
            let p = RetryPolicy {
                num_retries: 1,
                retry_on: vec![v.to_string()],
                retriable_status_codes: Vec::new(),
                per_try_timeout: None,
                previous_hosts: false,
                host_selection_retry_max_attempts: 0,
                backoff_base: None,
                retry_remote_localities: false,
            };
            p.retry_condition(r).is_some()
        })
        .collect();
    let what = match outcome {
        TryOutcome::Status { code } => format!("a {code}"),
        TryOutcome::ConnectFailure => "a refused connection".into(),
        TryOutcome::Reset => "a reset connection".into(),
        TryOutcome::PerTryTimeout => "a per-try timeout".into(),
    };
    (!covering.is_empty()).then(|| {
        format!(
            "retryOn values that would retry {what}: {}",
            covering.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regex_fails_where_no_continuation_is_possible() {
        // The tutorial's regex and a browser's cookie: the space after `;` is what fails.
        let w = regex_failure("^(.*?;)?(usertype=tester)(;.*)?$", "a=1; usertype=tester").unwrap();
        assert!(
            w.contains("it would match without the ' ' after \"a=1;\" (character 5)"),
            "{w}"
        );
        let w = regex_failure("abc", "abx").unwrap();
        assert!(
            w.contains("accepts \"ab\" but nothing that goes on with 'x' (character 3)"),
            "{w}"
        );
        let w = regex_failure("abc", "ab").unwrap();
        assert!(w.contains("ends too early"), "{w}");
        // Multi-byte characters are counted as characters, never split, even where the
        // automaton gives up inside one (é and è share their first byte).
        let w = regex_failure("é+", "éé!").unwrap();
        assert!(w.contains("'!' (character 3)"), "{w}");
        let w = regex_failure("café", "cafè").unwrap();
        assert!(
            w.contains("accepts \"caf\" but nothing that goes on with 'è' (character 4)"),
            "{w}"
        );
    }

    #[test]
    fn near_misses_are_explained_and_strangers_are_not() {
        use crate::trace::{Condition, StringMatch};
        let m = |kind, expected: &str, found: &str| ConditionMismatch {
            condition: Condition::Path,
            expected: StringMatch {
                kind,
                value: Some(expected.into()),
                ignore_case: false,
            },
            found: Some(found.into()),
            invert: false,
        };
        let w = mismatch(&m(MatchKind::Exact, "/api/v1", "/api/v2")).unwrap();
        assert!(
            w.contains("both begin \"/api/v\", then the value has \"2\""),
            "{w}"
        );
        let w = mismatch(&m(MatchKind::Prefix, "/API", "/api/x")).unwrap();
        assert!(w.contains("only the case differs"), "{w}");
        let w = mismatch(&m(MatchKind::Exact, "/api/", "/api")).unwrap();
        assert!(w.contains("ends after \"/api\""), "{w}");
        assert_eq!(mismatch(&m(MatchKind::Exact, "/old", "/fault")), None);
    }

    #[test]
    fn outcomes_list_the_conditions_that_retry_them() {
        let w = would_retry(TryOutcome::ConnectFailure).unwrap();
        assert!(w.contains("5xx") && w.contains("connect-failure"), "{w}");
        assert!(!w.contains("retriable-4xx"), "{w}");
        assert!(would_retry(TryOutcome::Status { code: 404 }).is_none());
    }
}
