//! Timestamps: unit conversion and a small ISO-8601 parser (UTC), so days are UTC calendar days.

/// Seconds in a day: day = floor(timestamp / 86400), the UTC calendar day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC calendar day of a unix timestamp in seconds (floor division, also for negatives).
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(SECONDS_PER_DAY)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parse `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.frac]]` or `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM]`
/// into unix seconds (UTC; an explicit offset is applied). `None` when it is not such a string.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * SECONDS_PER_DAY;
    if let Some(rest) = rest {
        let (time, offset) = split_offset(rest)?;
        let time = time.split('.').next()?;
        let mut tp = time.split(':');
        let h = num(tp.next()?)?;
        let mi = num(tp.next()?)?;
        let se = tp.next().map(num).unwrap_or(Some(0))?;
        if tp.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se - offset;
    }
    Some(secs)
}

/// Split `HH:MM:SS+02:00` into the time and the offset in seconds.
fn split_offset(t: &str) -> Option<(&str, i64)> {
    if let Some(t) = t.strip_suffix('Z') {
        return Some((t, 0));
    }
    match t.rfind(['+', '-']) {
        Some(i) => {
            let (time, off) = t.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let mut op = off[1..].split(':');
            let h = num(op.next()?)?;
            let m = op.next().map(num).unwrap_or(Some(0))?;
            Some((time, sign * (h * 3600 + m * 60)))
        }
        None => Some((t, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_boundary_is_utc_midnight() {
        assert_eq!(day_of(SECONDS_PER_DAY - 1), 0);
        assert_eq!(day_of(SECONDS_PER_DAY), 1);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn parses_iso_forms() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-02 00:00:01"), Some(86_401));
        assert_eq!(parse_datetime("2017-02-28T19:21:51Z"), Some(1_488_309_711));
        assert_eq!(
            parse_datetime("2017-02-28T21:21:51+02:00"),
            Some(1_488_309_711)
        );
        assert_eq!(
            parse_datetime("2017-02-28 19:21:51.250"),
            Some(1_488_309_711)
        );
        assert_eq!(parse_datetime("2000-03-01"), Some(951_868_800));
        assert_eq!(parse_datetime("2016-02-29"), Some(1_456_704_000));
        for bad in [
            "",
            "yesterday",
            "2017-13-01",
            "2017-02-29",
            "2017-04-31",
            "2017-02-28 25:00:00",
            "2017/02/28",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
