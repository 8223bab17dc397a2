//! A one-pass JSON reader for the daemon's frames: where a frame's members are, and the items
//! of its `outputs`, as slices of the frame's text, checked as strictly as `serde_json` checks
//! what it skips, never decoded.
//!
//! A large tool result is one long string in a frame; `serde_json` went over it three times
//! (the frame, then `outputs`, then each item) at about 3 GB/s, byte by byte in 8-byte words.
//! Here it is read once, a string 16 bytes at a time (SSE2 on x86-64, 8-byte words elsewhere),
//! and what the hub needs comes out of that one pass. Nesting is followed with an explicit stack,
//! as `serde_json` skips values, so any depth is read without recursion.
//!
//! The text must already be UTF-8 (a `&str`); this only checks JSON's own grammar.

use std::borrow::Cow;

/// The text is not one JSON object (or an object key cannot be decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

type Scan<T> = Result<T, Invalid>;

/// An object member: its key and its value's JSON as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    /// The key, decoded (borrowed when it has no escapes).
    pub(crate) key: Cow<'a, str>,
    /// The value's JSON, from its first byte to its last.
    pub(crate) value: &'a str,
    /// When the value is an array and its items were asked for: each item's JSON, and the
    /// members of the items that are objects.
    pub(crate) items: Option<Vec<Item<'a>>>,
}

/// An array item: its JSON and, for an object, its members (their values not looked into), or
/// `Err` when one of their keys cannot be decoded (the item is still valid JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub(crate) json: &'a str,
    pub(crate) members: Option<Scan<Vec<Member<'a>>>>,
}

/// The members of the object that `text` is (JSON whitespace around it allowed), in order,
/// duplicates included; for a member whose key is `expand`, the items of its array value.
pub(crate) fn object<'a>(text: &'a str, expand: &str) -> Scan<Vec<Member<'a>>> {
    let mut scanner = Scanner {
        text: text.as_bytes(),
        pos: 0,
    };
    scanner.whitespace();
    let members = scanner.members(Some(expand))?;
    scanner.whitespace();
    if scanner.pos != scanner.text.len() {
        return Err(Invalid);
    }
    members
        .into_iter()
        .map(|member| member.into_member(text))
        .collect()
}

/// A member as found: byte ranges, turned into slices of the text at the end.
struct Found {
    key: (usize, usize),
    key_escaped: bool,
    value: (usize, usize),
    items: Option<Vec<FoundItem>>,
}

struct FoundItem {
    json: (usize, usize),
    members: Option<Vec<Found>>,
}

impl Found {
    fn into_member(self, text: &str) -> Scan<Member<'_>> {
        let raw_key = &text[self.key.0..self.key.1];
        let key = if self.key_escaped {
            // Escapes decoded as serde_json decodes a key (a lone surrogate is an error).
            Cow::Owned(
                serde_json::from_str::<String>(&text[self.key.0 - 1..self.key.1 + 1])
                    .map_err(|_| Invalid)?,
            )
        } else {
            Cow::Borrowed(raw_key)
        };
        Ok(Member {
            key,
            value: &text[self.value.0..self.value.1],
            items: self
                .items
                .map(|items| {
                    items
                        .into_iter()
                        .map(|item| {
                            Ok(Item {
                                json: &text[item.json.0..item.json.1],
                                members: item.members.map(|members| {
                                    members
                                        .into_iter()
                                        .map(|member| member.into_member(text))
                                        .collect::<Scan<Vec<_>>>()
                                }),
                            })
                        })
                        .collect::<Scan<Vec<_>>>()
                })
                .transpose()?,
        })
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// An object at `pos`: its members, the items of `expand`'s array value (if given) with
    /// their own members (not expanded further).
    fn members(&mut self, expand: Option<&str>) -> Scan<Vec<Found>> {
        self.eat(b'{')?;
        let mut members = Vec::new();
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            self.whitespace();
            let key_start = self.pos + 1;
            let key_escaped = self.string()?;
            let key = (key_start, self.pos - 1);
            self.whitespace();
            self.eat(b':')?;
            self.whitespace();
            let value_start = self.pos;
            let raw_key = &self.text[key.0..key.1];
            let items = match expand {
                Some(expand)
                    if self.peek() == Some(b'[')
                        && (raw_key == expand.as_bytes() || key_escaped) =>
                {
                    Some(self.items()?)
                }
                _ => {
                    self.value()?;
                    None
                }
            };
            members.push(Found {
                key,
                key_escaped,
                value: (value_start, self.pos),
                items,
            });
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(members);
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// An array at `pos`: each item, with the members of object items.
    fn items(&mut self) -> Scan<Vec<FoundItem>> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            self.whitespace();
            let start = self.pos;
            let members = if self.peek() == Some(b'{') {
                Some(self.members(None)?)
            } else {
                self.value()?;
                None
            };
            items.push(FoundItem {
                json: (start, self.pos),
                members,
            });
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// Skips one value at `pos` (no whitespace before it), checking it.
    fn value(&mut self) -> Scan<()> {
        // The closers of the open containers: `]` or `}`.
        let mut open: Vec<u8> = Vec::new();
        loop {
            self.whitespace();
            match self.peek().ok_or(Invalid)? {
                b'"' => {
                    self.string()?;
                }
                b'{' => {
                    self.pos += 1;
                    self.whitespace();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(b'}');
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        open.push(b']');
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Invalid),
            }
            // A value ended: close containers until one goes on.
            loop {
                let Some(&closer) = open.last() else {
                    return Ok(());
                };
                self.whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if closer == b'}' {
                            self.whitespace();
                            self.key()?;
                        }
                        break;
                    }
                    Some(byte) if byte == closer => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// A key and its colon, at `pos`.
    fn key(&mut self) -> Scan<()> {
        self.string()?;
        self.whitespace();
        self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// A number, as `serde_json` checks one it skips: `-`? int (`.` digits)? ([eE] [+-]? digits)?
    fn number(&mut self) -> Scan<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Invalid);
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Invalid);
            }
            self.digits();
        }
        // "01": serde_json refuses a digit after a leading zero; here it would be left over,
        // where no value may follow, so the caller refuses it.
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string at `pos`, up to and past its closing quote; whether it holds an escape.
    fn string(&mut self) -> Scan<bool> {
        self.eat(b'"')?;
        let mut escaped = false;
        loop {
            let at = self.pos + find_special(&self.text[self.pos..]).ok_or(Invalid)?;
            match self.text[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos = at + 1;
                    match self.peek().ok_or(Invalid)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let hex = self.text.get(self.pos + 1..self.pos + 5).ok_or(Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Invalid);
                            }
                            self.pos += 5;
                        }
                        _ => return Err(Invalid),
                    }
                }
                // A control character: JSON wants it escaped.
                _ => return Err(Invalid),
            }
        }
    }
}

/// Whether `byte` ends a run of plain string bytes: a quote, a backslash or a control character.
fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The index of the first [`is_special`] byte.
#[cfg(target_arch = "x86_64")]
fn find_special(bytes: &[u8]) -> Option<usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    const LANES: usize = 16;
    let mut at = 0;
    // SAFETY: SSE2 is part of every x86-64 CPU, and each load reads 16 bytes that lie within
    // `bytes` (`at + LANES <= bytes.len()`); loadu has no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1F);
        let special = |chunk: __m128i| {
            // Unsigned `chunk <= 0x1F` is `min(chunk, 0x1F) == chunk`.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, below_space), chunk);
            let quotes = _mm_or_si128(
                _mm_cmpeq_epi8(chunk, quote),
                _mm_cmpeq_epi8(chunk, backslash),
            );
            _mm_movemask_epi8(_mm_or_si128(control, quotes)) as u32
        };
        // Four lanes a round while there is room: one test for 64 bytes.
        while at + 4 * LANES <= bytes.len() {
            let pointer = bytes.as_ptr().add(at);
            let a = special(_mm_loadu_si128(pointer.cast()));
            let b = special(_mm_loadu_si128(pointer.add(LANES).cast()));
            let c = special(_mm_loadu_si128(pointer.add(2 * LANES).cast()));
            let d = special(_mm_loadu_si128(pointer.add(3 * LANES).cast()));
            let all = u64::from(a)
                | u64::from(b) << LANES
                | u64::from(c) << (2 * LANES)
                | u64::from(d) << (3 * LANES);
            if all != 0 {
                return Some(at + all.trailing_zeros() as usize);
            }
            at += 4 * LANES;
        }
        while at + LANES <= bytes.len() {
            let found = special(_mm_loadu_si128(bytes.as_ptr().add(at).cast()));
            if found != 0 {
                return Some(at + found.trailing_zeros() as usize);
            }
            at += LANES;
        }
    }
    bytes[at..]
        .iter()
        .position(|&byte| is_special(byte))
        .map(|offset| at + offset)
}

/// The index of the first [`is_special`] byte.
#[cfg(not(target_arch = "x86_64"))]
fn find_special(bytes: &[u8]) -> Option<usize> {
    find_special_in_words(bytes)
}

/// The index of the first [`is_special`] byte, 8 bytes at a time (without SIMD; tested on every
/// target).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn find_special_in_words(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte that is zero (exact for the first one found, in memory order).
    let zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let found = below_space
            | zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            // A borrow can mark bytes after the first hit, never before it.
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&byte| is_special(byte))
        .map(|offset| at + offset)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
