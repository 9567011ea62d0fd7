// Character classes of RFC 9110 §5.6 as regex sources, shared by the head parser and the chunked decoder.
// Heads are decoded as latin1, so every byte is one char in \x00-\xff and obs-text is \x80-\xff.

/** tchar: a token is 1*tchar. */
export const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
/** VCHAR or obs-text: a field value's visible bytes. */
export const FIELD_VCHAR = '[\\x21-\\x7e\\x80-\\xff]';
/** quoted-string: qdtext and quoted-pair. */
export const QUOTED_STRING = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
