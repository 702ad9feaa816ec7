//! Standard output that shows control characters instead of obeying them. Input is
//! attacker-controlled (CI on pull requests): a label, a principal or a condition may
//! hold an escape sequence that would move the cursor, rewrite a line or retitle the
//! terminal. Every command's answer goes through [`Visible`]: C0 controls (but line
//! feeds and tabs), DEL and C1 controls are written as `\u{..}`, as diagnostics are.
//! The only sequences let through are the colours kubeseg itself paints (`ESC [` then
//! `0`, `1`, `2`, `1;31`, `1;33`, `1;35` or `1;36`, then `m`), which can change a
//! colour and nothing else.

use std::io::{self, Write};

/// The colour sequences kubeseg writes, between `ESC [` and `m`.
const OWN_COLOURS: &[&[u8]] = &[b"0", b"1", b"2", b"1;31", b"1;33", b"1;35", b"1;36"];

/// The longest colour sequence, `ESC [ 1 ; 3 1 m`.
const LONGEST: usize = 7;

/// Whether a byte needs a look: a control other than line feed and tab, DEL, or the
/// lead byte of a C1 control.
fn special(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || b == 0xc2
}

/// Whether `buf` holds a [`special`] byte, eight bytes at a time with exact per-byte
/// masks (no carry crosses a byte), so pretty JSON's many line feeds cost nothing.
fn special_in(buf: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte set where the byte equals `b`.
    let equal = |x: u64, b: u8| {
        let y = x ^ (ONES * u64::from(b));
        !(((y & LOW) + LOW) | y) & HIGH
    };
    let mut words = buf.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        // Bytes below 0x20: high bit clear and the low seven bits below 0x20.
        let below_space = !((x & LOW) + ONES * 0x60) & !x & HIGH;
        let controls = below_space & !equal(x, b'\n') & !equal(x, b'\t');
        if controls | equal(x, 0x7f) | equal(x, 0xc2) != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| special(b))
}

/// A writer that escapes control characters on their way to `W`.
pub(crate) struct Visible<W: Write> {
    inner: W,
    /// An escape sequence being read (it starts with ESC).
    escape: Vec<u8>,
    /// A 0xC2 byte whose continuation has not been seen yet (C1 controls are
    /// U+0080–U+009F, encoded 0xC2 0x80–0x9F).
    lead: bool,
    out: Vec<u8>,
}

impl<W: Write> Visible<W> {
    pub(crate) fn new(inner: W) -> Self {
        Visible {
            inner,
            escape: Vec::new(),
            lead: false,
            out: Vec::new(),
        }
    }

    fn shown(&mut self, c: u32) {
        let _ = write!(self.out, "\\u{{{c:x}}}");
    }

    /// Writes the pending escape bytes as shown text.
    fn spill_escape(&mut self) {
        let pending = std::mem::take(&mut self.escape);
        self.shown(0x1b);
        for &b in &pending[1..] {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if !self.escape.is_empty() {
            self.escape.push(b);
            let body = &self.escape[1..];
            if body.len() >= 2 && b == b'm' {
                if OWN_COLOURS.contains(&&body[1..body.len() - 1]) && body[0] == b'[' {
                    self.out.append(&mut self.escape);
                } else {
                    self.spill_escape();
                }
            } else if (body.len() == 1 && b != b'[')
                || (body.len() > 1 && !(b.is_ascii_digit() || b == b';'))
                || self.escape.len() >= LONGEST
            {
                self.spill_escape();
            }
            return;
        }
        if self.lead {
            self.lead = false;
            if (0x80..=0x9f).contains(&b) {
                self.shown(u32::from(b));
                return;
            }
            self.out.push(0xc2);
        }
        match b {
            0x1b => self.escape.push(b),
            b'\n' | b'\t' => self.out.push(b),
            0..=0x1f | 0x7f => self.shown(u32::from(b)),
            0xc2 => self.lead = true,
            _ => self.out.push(b),
        }
    }

    /// Writes what is still held back (call once, at the end).
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if !self.escape.is_empty() {
            self.spill_escape();
        }
        if std::mem::take(&mut self.lead) {
            self.out.push(0xc2);
        }
        self.drain()?;
        self.inner.flush()
    }

    fn drain(&mut self) -> io::Result<()> {
        let result = self.inner.write_all(&self.out);
        self.out.clear();
        result
    }
}

impl<W: Write> Write for Visible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Most text has no control byte at all: pass it through as it is.
        let plain = self.escape.is_empty() && !self.lead && !special_in(buf);
        if plain {
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        for &b in buf {
            self.byte(b);
        }
        self.drain()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A sequence split across writes stays held back: only `finish` ends it.
        self.drain()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::Visible;
    use std::io::Write;

    fn shown(chunks: &[&[u8]]) -> String {
        let mut v = Visible::new(Vec::new());
        for c in chunks {
            v.write_all(c).unwrap();
        }
        v.finish().unwrap();
        String::from_utf8(v.inner).unwrap()
    }

    #[test]
    fn controls_are_shown_and_text_is_kept() {
        assert_eq!(
            shown(&[b"a\x1b]0;title\x07b\r\n\tc"]),
            "a\\u{1b}]0;title\\u{7}b\\u{d}\n\tc"
        );
        assert_eq!(shown(&["é ü → x\u{7f}".as_bytes()]), "é ü → x\\u{7f}");
        // C1 CSI (U+009B), even split between two writes.
        assert_eq!(shown(&[b"x\xc2", b"\x9b2Jy"]), "x\\u{9b}2Jy");
    }

    #[test]
    fn the_word_scan_finds_every_special_byte_anywhere() {
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut buf = vec![b'a'; 17];
                buf[at] = b;
                assert_eq!(super::special_in(&buf), super::special(b), "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn only_kubesegs_own_colours_pass() {
        assert_eq!(shown(&[b"\x1b[1;31mhigh\x1b[0m"]), "\x1b[1;31mhigh\x1b[0m");
        assert_eq!(shown(&[b"\x1b[1;", b"31mhigh"]), "\x1b[1;31mhigh");
        assert_eq!(shown(&[b"\x1b[2J\x1b[8m"]), "\\u{1b}[2J\\u{1b}[8m");
        assert_eq!(shown(&[b"\x1b[31;1;4;5mx"]), "\\u{1b}[31;1;4;5mx");
        assert_eq!(shown(&[b"end\x1b"]), "end\\u{1b}");
    }
}
