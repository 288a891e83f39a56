//! Integers in decimal without `fmt`: generated requests and ring entries spell numbers
//! millions of times, and the formatting machinery costs more than the digits.

/// The decimal digits of `n`, written at the end of `buf`.
///
/// ```
/// let mut buf = [0u8; 20];
/// assert_eq!(meshsim::common::decimal::digits(4096, &mut buf), "4096");
/// assert_eq!(meshsim::common::decimal::digits(u64::MAX, &mut buf), u64::MAX.to_string());
/// ```
#[inline]
pub fn digits(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_match_to_string() {
        let mut buf = [0u8; 20];
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(super::digits(n, &mut buf), n.to_string());
        }
    }
}
