//! Bottom layer: seeded random streams, simulated time, and the did-you-mean of names. No I/O,
//! no global state.

pub mod decimal;
pub mod rng;
pub mod time;

/// The candidate a mistyped `found` most likely meant: the one the fewest edits away
/// (Levenshtein; the first in order on a tie), if it is at most `max_edits` away and a typo
/// is plausible (the candidate is more than twice as long as the edits).
///
/// ```
/// use meshsim::common::closest;
/// let known = ["myweb-service", "retry-service"];
/// assert_eq!(closest("myweb-servce", known, 2), Some("myweb-service"));
/// assert_eq!(closest("nothing-alike", known, 2), None);
/// assert_eq!(closest("myweb-service", known, 2), None, "an exact name is no typo");
/// ```
pub fn closest<'a>(
    found: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max_edits: usize,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(found, c), c))
        .filter(|&(d, c)| d > 0 && d <= max_edits && c.len() > 2 * d)
        .min()
        .map(|(_, c)| c)
}
