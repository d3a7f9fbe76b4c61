//! Exact fixed-point prices and sizes.
//!
//! Every number inside the engine is an integer count of [`UNITS_PER_ONE`]ths
//! (1e-8). That scale is finer than anything in PROTOCOL.md A3: prices live on
//! grids down to 0.0001 and sizes are quoted down to 0.000001, so every wire
//! value converts exactly and comparisons never see float noise.
//!
//! Conversion from JSON text reads the decimal digits straight into the
//! integer ([`Decimal::parse`]), rounding half up at the 9th decimal when a
//! value carries more digits than the scale holds. Conversion from an `f64`
//! (the general parser's numbers, or user input) goes through the shortest
//! decimal that round-trips the float, so both routes agree on every value
//! with at most 15 significant digits.

use std::fmt;

/// Fixed-point units per 1.0: the scale of [`Price`] and [`Size`] (1e-8).
///
/// ```
/// use wirebook::{Price, UNITS_PER_ONE};
/// assert_eq!(UNITS_PER_ONE, 10u64.pow(wirebook::price::DECIMALS));
/// assert_eq!(u64::from(Price::ONE.units()), UNITS_PER_ONE);
/// ```
pub const UNITS_PER_ONE: u64 = 100_000_000;
/// Decimal digits after the point that the scale holds.
///
/// ```
/// use wirebook::{price::DECIMALS, Size};
/// assert_eq!(DECIMALS, 8);
/// // The 8th decimal is the smallest unit the scale holds.
/// assert_eq!(Size::parse(b"0.00000001").unwrap().units(), 1);
/// ```
pub const DECIMALS: u32 = 8;

/// Why a number could not become a [`Price`] or [`Size`].
///
/// ```
/// use wirebook::{NumberError, Price};
/// let err = Price::parse(b"1.5").unwrap_err();
/// assert_eq!(err, NumberError::OutOfRange);
/// assert_eq!(err.to_string(), "value out of range");
/// assert_eq!(Price::parse(b"-0.5"), Err(NumberError::Negative));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// Not a JSON number at all (`NaN`, `Infinity`, garbage). Skip the frame.
    #[error("not a number")]
    NotANumber,
    /// A negative price or size. Skip the frame: the server sent nonsense.
    #[error("negative value")]
    Negative,
    /// A price outside (0, 1] or a size beyond the fixed-point range. Skip the frame.
    #[error("value out of range")]
    OutOfRange,
}

/// A decimal number as read from JSON text: `mantissa * 10^exponent`.
///
/// ```
/// use wirebook::Decimal;
/// let d = Decimal::parse(b"4.5e-1").unwrap();
/// assert_eq!(d.to_units().unwrap(), 45_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// Significant digits (as many as fit a `u64`; further digits are truncated).
    pub mantissa: u64,
    /// Power of ten applied to the mantissa.
    pub exponent: i32,
    /// Whether a minus sign was present.
    pub negative: bool,
    /// Whether a non-zero digit was dropped because the mantissa was full
    /// (the value is then not exactly `mantissa * 10^exponent`).
    pub inexact: bool,
}

impl Decimal {
    /// Parses a complete JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    ///
    /// Returns the decimal and needs the whole slice to be the number.
    ///
    /// ```
    /// use wirebook::Decimal;
    /// assert!(Decimal::parse(b"0.45").is_ok());
    /// assert!(Decimal::parse(b"NaN").is_err());
    /// assert!(Decimal::parse(b"01").is_err());
    /// ```
    pub fn parse(text: &[u8]) -> Result<Decimal, NumberError> {
        match Self::parse_prefix(text) {
            Some((d, used)) if used == text.len() => Ok(d),
            _ => Err(NumberError::NotANumber),
        }
    }

    /// Parses the JSON number at the start of `text`; returns it and the bytes used.
    ///
    /// `None` when `text` does not start with a valid JSON number.
    ///
    /// ```
    /// use wirebook::Decimal;
    /// let (d, used) = Decimal::parse_prefix(b"12.5,").unwrap();
    /// assert_eq!((d.mantissa, d.exponent, used), (125, -1, 4));
    /// ```
    #[inline]
    pub fn parse_prefix(text: &[u8]) -> Option<(Decimal, usize)> {
        let mut i = 0;
        let negative = text.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        let mut mantissa: u64 = 0;
        let mut exponent: i32 = 0;
        // Once a digit no longer fits the mantissa, it and every later digit is dropped.
        let mut full = false;
        let mut inexact = false;
        // Integer part.
        match text.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&c) = text.get(i) {
                    if !c.is_ascii_digit() {
                        break;
                    }
                    match push_digit(mantissa, c, full) {
                        Some(m) => mantissa = m,
                        None => {
                            full = true;
                            inexact |= c != b'0';
                            exponent = exponent.saturating_add(1);
                        }
                    }
                    i += 1;
                }
            }
            _ => return None,
        }
        // Fraction.
        if text.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while let Some(&c) = text.get(i) {
                if !c.is_ascii_digit() {
                    break;
                }
                if let Some(m) = push_digit(mantissa, c, full) {
                    mantissa = m;
                    exponent = exponent.saturating_sub(1);
                } else {
                    full = true;
                    inexact |= c != b'0';
                }
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        // Exponent.
        if let Some(b'e' | b'E') = text.get(i) {
            i += 1;
            let exp_negative = match text.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            let mut e: i32 = 0;
            while let Some(&c) = text.get(i) {
                if !c.is_ascii_digit() {
                    break;
                }
                e = e.saturating_mul(10).saturating_add(i32::from(c - b'0'));
                i += 1;
            }
            if i == start {
                return None;
            }
            exponent = if exp_negative {
                exponent.saturating_sub(e)
            } else {
                exponent.saturating_add(e)
            };
        }
        Some((
            Decimal {
                mantissa,
                exponent,
                negative,
                inexact,
            },
            i,
        ))
    }

    /// The decimal in fixed-point units (1e-8), rounded half up.
    ///
    /// ```
    /// use wirebook::{Decimal, NumberError};
    /// assert_eq!(Decimal::parse(b"0.000000005").unwrap().to_units(), Ok(1));
    /// assert_eq!(Decimal::parse(b"-1").unwrap().to_units(), Err(NumberError::Negative));
    /// assert_eq!(Decimal::parse(b"1e400").unwrap().to_units(), Err(NumberError::OutOfRange));
    /// ```
    #[inline]
    pub fn to_units(self) -> Result<u64, NumberError> {
        if self.mantissa == 0 {
            return Ok(0);
        }
        if self.negative {
            return Err(NumberError::Negative);
        }
        let shift = self.exponent.saturating_add(DECIMALS as i32);
        if shift >= 0 {
            if self.inexact && shift > 0 {
                // A digit was dropped at or above the unit: the value is
                // past `u64::MAX` units (the mantissa times ten overflowed).
                // At `shift == 0` the dropped digits are below the unit and
                // are truncated (an error under one unit, on a value of
                // 1e18 units or more).
                return Err(NumberError::OutOfRange);
            }
            let factor = pow10(shift as u32).ok_or(NumberError::OutOfRange)?;
            self.mantissa
                .checked_mul(factor)
                .ok_or(NumberError::OutOfRange)
        } else {
            let down = shift.unsigned_abs();
            match pow10(down) {
                Some(divisor) => {
                    let q = self.mantissa / divisor;
                    let r = self.mantissa % divisor;
                    // Half up: r >= divisor / 2, without overflow.
                    Ok(q + u64::from(r >= divisor - r))
                }
                // Below half a unit: the mantissa has < 20 digits.
                None => Ok(0),
            }
        }
    }

    /// The magnitude as an exact integer, ignoring the sign; `None` if it has a
    /// fraction or overflows `u64`.
    ///
    /// ```
    /// use wirebook::Decimal;
    /// assert_eq!(Decimal::parse(b"-12").unwrap().magnitude_u64(), Some(12));
    /// ```
    pub fn magnitude_u64(self) -> Option<u64> {
        Decimal {
            negative: false,
            ..self
        }
        .to_u64()
    }

    /// The decimal as an exact unsigned integer (for sequence numbers and
    /// timestamps); `None` if it has a fraction, a sign, or overflows `u64`.
    ///
    /// ```
    /// use wirebook::Decimal;
    /// assert_eq!(Decimal::parse(b"1235").unwrap().to_u64(), Some(1235));
    /// assert_eq!(Decimal::parse(b"1.5").unwrap().to_u64(), None);
    /// // A fraction past the digits a `u64` holds is still a fraction.
    /// assert_eq!(Decimal::parse(b"1.00000000000000000001").unwrap().to_u64(), None);
    /// assert_eq!(Decimal::parse(b"0e400").unwrap().to_u64(), Some(0));
    /// ```
    #[inline]
    pub fn to_u64(self) -> Option<u64> {
        if self.inexact {
            // A non-zero digit was dropped: a fraction, or past `u64::MAX`.
            return None;
        }
        if self.mantissa == 0 {
            return Some(0);
        }
        if self.negative {
            return None;
        }
        if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent as u32)?)
        } else {
            let d = pow10(self.exponent.unsigned_abs())?;
            self.mantissa.is_multiple_of(d).then_some(self.mantissa / d)
        }
    }
}

/// `mantissa * 10 + digit`, or `None` once the mantissa is full.
#[inline]
fn push_digit(mantissa: u64, digit: u8, full: bool) -> Option<u64> {
    if full {
        return None;
    }
    mantissa
        .checked_mul(10)?
        .checked_add(u64::from(digit - b'0'))
}

#[inline]
fn pow10(n: u32) -> Option<u64> {
    10u64.checked_pow(n)
}

/// Fixed-point units of a finite `f64`: the units of its shortest round-trip
/// decimal, rounded half up.
///
/// Fast route: with `x = value * 1e8` below 2^50, `x` is within 0.25 of the
/// decimal times 1e8 (both roundings are under ulp(x) <= 1/4); if `x` is also
/// within 0.25 of an integer, the decimal is within 0.5 of that integer, which
/// is then its correct rounding. Otherwise (near a tie, or huge) the shortest
/// decimal is written out and read back.
pub(crate) fn f64_to_units(value: f64) -> Result<u64, NumberError> {
    if !value.is_finite() {
        return Err(NumberError::NotANumber);
    }
    if value > 0.0 {
        let x = value * UNITS_PER_ONE as f64;
        if x < (1u64 << 50) as f64 {
            let r = x.round();
            if (x - r).abs() < 0.25 {
                return Ok(r as u64);
            }
        }
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(value);
    Decimal::parse(text.as_bytes())?.to_units()
}

/// A probability price in (0, 1], in units of 1e-8.
///
/// ```
/// use wirebook::Price;
/// let p = Price::from_f64(0.455).unwrap();
/// assert_eq!(p.units(), 45_500_000);
/// assert_eq!(p.to_string(), "0.455");
/// assert!(Price::from_f64(1.5).is_err());
/// assert!(Price::from_f64(0.0).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(u32);

impl Price {
    /// The highest price, 1.0.
    ///
    /// ```
    /// use wirebook::{Price, UNITS_PER_ONE};
    /// assert_eq!(Price::parse(b"1.0").unwrap(), Price::ONE);
    /// assert_eq!(Price::ONE.to_string(), "1");
    /// assert!(Price::from_units(UNITS_PER_ONE + 1).is_err());
    /// ```
    pub const ONE: Price = Price(UNITS_PER_ONE as u32);

    /// A price from fixed-point units; `OutOfRange` unless `0 < units <= 1e8`.
    ///
    /// ```
    /// # use wirebook::Price;
    /// assert_eq!(Price::from_units(1).unwrap().units(), 1);
    /// assert!(Price::from_units(0).is_err());
    /// ```
    #[inline]
    pub fn from_units(units: u64) -> Result<Price, NumberError> {
        if units == 0 || units > UNITS_PER_ONE {
            Err(NumberError::OutOfRange)
        } else {
            Ok(Price(units as u32))
        }
    }

    /// A price from units already known to be in range (published by the store).
    #[inline(always)]
    pub(crate) const fn from_raw(units: u32) -> Price {
        Price(units)
    }

    /// Parses a price from JSON number text.
    ///
    /// ```
    /// # use wirebook::Price;
    /// assert_eq!(Price::parse(b"45E-2").unwrap(), Price::parse(b"0.45").unwrap());
    /// ```
    #[inline]
    pub fn parse(text: &[u8]) -> Result<Price, NumberError> {
        Price::from_decimal(Decimal::parse(text)?)
    }

    /// A price from a parsed decimal.
    ///
    /// ```
    /// # use wirebook::{Decimal, Price};
    /// assert!(Price::from_decimal(Decimal::parse(b"1").unwrap()).is_ok());
    /// ```
    #[inline]
    pub fn from_decimal(d: Decimal) -> Result<Price, NumberError> {
        Price::from_units(d.to_units()?)
    }

    /// A price from a float (an edge of the engine: user input, the general parser).
    ///
    /// ```
    /// # use wirebook::Price;
    /// assert!(Price::from_f64(f64::NAN).is_err());
    /// ```
    pub fn from_f64(value: f64) -> Result<Price, NumberError> {
        Price::from_units(f64_to_units(value)?)
    }

    /// Fixed-point units (1e-8).
    ///
    /// ```
    /// # use wirebook::Price;
    /// assert_eq!(Price::ONE.units(), 100_000_000);
    /// ```
    #[inline]
    pub const fn units(self) -> u32 {
        self.0
    }

    /// The price as a float, for display and user code at the edges.
    ///
    /// ```
    /// # use wirebook::Price;
    /// assert_eq!(Price::ONE.to_f64(), 1.0);
    /// ```
    pub fn to_f64(self) -> f64 {
        f64::from(self.0) / UNITS_PER_ONE as f64
    }
}

/// A non-negative quantity (contracts, shares), in units of 1e-8.
///
/// ```
/// use wirebook::Size;
/// let s = Size::parse(b"12.5").unwrap();
/// assert_eq!(s.units(), 1_250_000_000);
/// assert_eq!(s.to_string(), "12.5");
/// assert!(Size::ZERO.is_zero());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(u64);

impl Size {
    /// Zero: on a delta it removes the level.
    ///
    /// ```
    /// use wirebook::Size;
    /// assert_eq!(Size::parse(b"0").unwrap(), Size::ZERO);
    /// assert!(Size::ZERO.is_zero());
    /// assert_eq!(Size::default(), Size::ZERO);
    /// ```
    pub const ZERO: Size = Size(0);
    /// The largest size representable (about 1.8e11).
    ///
    /// ```
    /// use wirebook::Size;
    /// assert_eq!(Size::MAX.units(), u64::MAX);
    /// assert!(Size::parse(b"1e11").unwrap() < Size::MAX);
    /// assert!(Size::parse(b"1e12").is_err());
    /// ```
    pub const MAX: Size = Size(u64::MAX);

    /// A size from fixed-point units.
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert_eq!(Size::from_units(5).units(), 5);
    /// ```
    #[inline]
    pub const fn from_units(units: u64) -> Size {
        Size(units)
    }

    /// Parses a size from JSON number text.
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert_eq!(Size::parse(b"1E1").unwrap(), Size::parse(b"10.000").unwrap());
    /// ```
    #[inline]
    pub fn parse(text: &[u8]) -> Result<Size, NumberError> {
        Size::from_decimal(Decimal::parse(text)?)
    }

    /// A size from a parsed decimal.
    ///
    /// ```
    /// # use wirebook::{Decimal, Size};
    /// assert!(Size::from_decimal(Decimal::parse(b"-1").unwrap()).is_err());
    /// ```
    #[inline]
    pub fn from_decimal(d: Decimal) -> Result<Size, NumberError> {
        Ok(Size(d.to_units()?))
    }

    /// A size from a float (an edge of the engine).
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert_eq!(Size::from_f64(0.000001).unwrap().units(), 100);
    /// ```
    pub fn from_f64(value: f64) -> Result<Size, NumberError> {
        Ok(Size(f64_to_units(value)?))
    }

    /// Fixed-point units (1e-8).
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert_eq!(Size::ZERO.units(), 0);
    /// ```
    #[inline]
    pub const fn units(self) -> u64 {
        self.0
    }

    /// Whether the size is zero.
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert!(!Size::from_units(1).is_zero());
    /// ```
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The size as a float, for display and user code at the edges.
    ///
    /// ```
    /// # use wirebook::Size;
    /// assert_eq!(Size::from_units(150_000_000).to_f64(), 1.5);
    /// ```
    pub fn to_f64(self) -> f64 {
        scaled_to_f64(u128::from(self.0), DECIMALS)
    }
}

/// `units / 10^decimals` as the nearest `f64` (ties to even), for every
/// `units`, at the edge where exact values become floats.
///
/// Below 2^53 both operands of one division are exact, and IEEE division
/// rounds once: the quotient is correctly rounded. Above, `units as f64`
/// would round first and the division again (a size of 175748170225.51298708
/// came out one unit in the last place low), so the exact decimal is written
/// on the stack and read by the standard parser, which rounds correctly.
pub(crate) fn scaled_to_f64(units: u128, decimals: u32) -> f64 {
    // Powers of ten exactly representable as `f64` (up to 1e22).
    const EXACT: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if units < 1 << 53 {
        if let Some(&scale) = EXACT.get(decimals as usize) {
            return units as f64 / scale;
        }
    }
    scaled_to_f64_by_text(units, decimals)
}

/// [`scaled_to_f64`]'s route for any `units`: `DIGITSe-DECIMALS` (at most 39
/// digits, `e-` and 10 digits) written on the stack and parsed.
fn scaled_to_f64_by_text(units: u128, decimals: u32) -> f64 {
    let mut text = [0u8; 51];
    let mut digits = itoa::Buffer::new();
    let mut exponent = itoa::Buffer::new();
    let parts = [
        digits.format(units).as_bytes(),
        b"e-",
        exponent.format(decimals).as_bytes(),
    ];
    let mut len = 0;
    for part in parts {
        let Some(to) = text.get_mut(len..len + part.len()) else {
            return f64::NAN; // unreachable: the parts fit
        };
        to.copy_from_slice(part);
        len += part.len();
    }
    std::str::from_utf8(&text[..len])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Writes `units` (1e-8) as the shortest exact decimal ("0.455", "12", "0.000001").
fn write_units(f: &mut fmt::Formatter<'_>, units: u64) -> fmt::Result {
    let whole = units / UNITS_PER_ONE;
    let mut frac = units % UNITS_PER_ONE;
    if frac == 0 {
        return write!(f, "{whole}");
    }
    let mut digits = DECIMALS as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    write!(f, "{whole}.{frac:0digits$}")
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_units(f, u64::from(self.0))
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_units(f, self.0)
    }
}

impl fmt::Debug for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Size({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_at_the_edge_are_correctly_rounded_at_every_size() {
        // Expected values from Python's int / int, which rounds correctly;
        // the first three came out one unit in the last place off when the
        // units were made a float before dividing.
        let cases: &[(u128, u32, f64)] = &[
            (929_348_875_744_755_764_251, 16, 92934.88757447558),
            (321_819_600_056_972_614_232, 16, 32181.960005697263),
            (17_574_817_022_551_298_708, 8, 175748170225.513),
            (9_007_199_254_740_993, 8, 90071992.54740994),
            (u64::MAX as u128, 8, 184467440737.09552),
            (u128::MAX, 16, 3.4028236692093846e22),
            (1 << 53, 16, 0.9007199254740992),
            (0, 16, 0.0),
        ];
        for &(units, decimals, want) in cases {
            assert_eq!(scaled_to_f64(units, decimals), want, "{units}e-{decimals}");
        }
        assert_eq!(
            Size::from_units(17_574_817_022_551_298_708).to_f64(),
            175748170225.513
        );
        // Below 2^53 one division of exact operands is correctly rounded:
        // the text route must agree with it everywhere there.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let units = u128::from(x >> (11 + x % 40));
            for decimals in [8, 16] {
                assert_eq!(
                    scaled_to_f64(units, decimals).to_bits(),
                    scaled_to_f64_by_text(units, decimals).to_bits(),
                    "{units}e-{decimals}"
                );
            }
        }
    }

    #[test]
    fn every_number_form_of_the_protocol_is_exact() {
        let cases: &[(&str, &[u8], u64)] = &[
            ("plain", b"0.45", 45_000_000),
            ("trailing zeros", b"0.4500", 45_000_000),
            ("exponent", b"4.5e-1", 45_000_000),
            ("exponent upper plus", b"45E-2", 45_000_000),
            ("integer one", b"1", 100_000_000),
            ("finest tick", b"0.0001", 10_000),
            ("tiny size", b"0.000001", 100),
            ("big size", b"12345678.123456", 1_234_567_812_345_600),
            ("exponent plus", b"1.0e+1", 1_000_000_000),
            ("zero", b"0", 0),
            ("zero fraction", b"0.0", 0),
            ("negative zero", b"-0", 0),
        ];
        for (name, text, units) in cases {
            let d = Decimal::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.to_units(), Ok(*units), "{name}");
        }
    }

    #[test]
    fn rounding_is_half_up_at_the_ninth_decimal() {
        assert_eq!(Decimal::parse(b"0.000000004").unwrap().to_units(), Ok(0));
        assert_eq!(Decimal::parse(b"0.000000005").unwrap().to_units(), Ok(1));
        assert_eq!(
            Decimal::parse(b"0.123456784999999999999")
                .unwrap()
                .to_units(),
            Ok(12_345_678)
        );
        assert_eq!(Decimal::parse(b"1e-400").unwrap().to_units(), Ok(0));
    }

    #[test]
    fn bad_numbers_are_typed_errors() {
        for bad in [
            &b""[..],
            b"-",
            b"NaN",
            b"Infinity",
            b"01",
            b"1.",
            b".5",
            b"1e",
            b"1e+",
            b"+1",
        ] {
            assert_eq!(Decimal::parse(bad), Err(NumberError::NotANumber), "{bad:?}");
        }
        assert_eq!(Price::parse(b"1.5"), Err(NumberError::OutOfRange));
        assert_eq!(Price::parse(b"0"), Err(NumberError::OutOfRange));
        assert_eq!(Size::parse(b"-1"), Err(NumberError::Negative));
        assert_eq!(Size::parse(b"1e400"), Err(NumberError::OutOfRange));
        assert_eq!(Size::from_f64(f64::INFINITY), Err(NumberError::NotANumber));
        // Floats at the edge: every kind of bad value, both types.
        for (value, want) in [
            (f64::NAN, NumberError::NotANumber),
            (f64::INFINITY, NumberError::NotANumber),
            (f64::NEG_INFINITY, NumberError::NotANumber),
            (-1.0, NumberError::Negative),
            (-1e-9, NumberError::Negative),
        ] {
            assert_eq!(Size::from_f64(value), Err(want), "size {value}");
            assert_eq!(Price::from_f64(value), Err(want), "price {value}");
        }
        assert_eq!(Price::from_f64(1.0000001), Err(NumberError::OutOfRange));
        assert_eq!(Price::from_f64(0.0), Err(NumberError::OutOfRange));
        assert_eq!(Size::from_f64(1e300), Err(NumberError::OutOfRange));
    }

    #[test]
    fn float_fast_route_agrees_with_the_decimal_route() {
        // Every value with up to 8 decimals on a coarse sweep, ties at the 9th
        // decimal, and magnitudes around the fast route's bound.
        let mut x: u64 = 1;
        while x < 4_000_000_000_000_000 {
            for units in [x, x + 1, x * 3 + 7] {
                let text = format!("{}.{:08}", units / UNITS_PER_ONE, units % UNITS_PER_ONE);
                let f: f64 = text.parse().unwrap();
                let via_text = Decimal::parse(text.as_bytes()).unwrap().to_units();
                assert_eq!(f64_to_units(f), via_text, "{text}");
                let tie = format!("{text}5");
                let f: f64 = tie.parse().unwrap();
                let mut b = ryu::Buffer::new();
                let shortest = Decimal::parse(b.format_finite(f).as_bytes())
                    .unwrap()
                    .to_units();
                assert_eq!(f64_to_units(f), shortest, "{tie}");
            }
            x = x * 7 / 3 + 1;
        }
    }

    #[test]
    fn float_route_agrees_with_text_route() {
        for text in [
            "0.455",
            "0.65",
            "0.0001",
            "12345678.123456",
            "0.999",
            "1e-5",
        ] {
            let f: f64 = text.parse().unwrap();
            assert_eq!(
                Size::from_f64(f).unwrap(),
                Size::parse(text.as_bytes()).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn display_is_the_shortest_exact_decimal() {
        assert_eq!(Price::parse(b"0.4500").unwrap().to_string(), "0.45");
        assert_eq!(Size::parse(b"0.000001").unwrap().to_string(), "0.000001");
        assert_eq!(Size::parse(b"10").unwrap().to_string(), "10");
        assert_eq!(format!("{:?}", Price::ONE), "Price(1)");
    }

    #[test]
    fn integers_for_sequence_numbers() {
        assert_eq!(
            Decimal::parse(b"18446744073709551615").unwrap().to_u64(),
            Some(u64::MAX)
        );
        assert_eq!(
            Decimal::parse(b"184467440737095516160").unwrap().to_u64(),
            None
        );
        assert_eq!(Decimal::parse(b"-3").unwrap().to_u64(), None);
        assert_eq!(Decimal::parse(b"12e2").unwrap().to_u64(), Some(1200));
        // A fraction whose digits fall past the mantissa is still a fraction.
        for text in [
            &b"9999999999999999999.9"[..],
            b"1.00000000000000000001",
            b"18446744073709551615.5",
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_u64(), None);
        }
        // Zeros dropped past the mantissa change nothing.
        assert_eq!(
            Decimal::parse(b"1.000000000000000000000").unwrap().to_u64(),
            Some(1)
        );
        // Units: a digit dropped at or above the unit is out of range
        // (1.8e11 is about u64::MAX units); below it the value stays.
        assert_eq!(
            Decimal::parse(b"184467440737.09551616").unwrap().to_units(),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(
            Decimal::parse(b"0.0000000050000000000000000001")
                .unwrap()
                .to_units(),
            Ok(1)
        );
        assert_eq!(
            Decimal::parse(b"18446744073.709551616").unwrap().to_units(),
            Ok(1_844_674_407_370_955_161)
        );
        // Zero is zero at any exponent, and of either sign.
        assert_eq!(Decimal::parse(b"0e400").unwrap().to_u64(), Some(0));
        assert_eq!(Decimal::parse(b"-0").unwrap().to_u64(), Some(0));
    }
}
