// Python `str` semantics over UTF-8 bytes: the templates were written against Jinja2, which runs
// on Python strings (code points), so lengths, slices, strip() and repr() must count and classify
// code points, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::chat::jinja {

// Decodes UTF-8 into code points. An invalid byte b becomes U+DC00+b (Python's
// "surrogateescape"), so encode_utf8(decode_utf8(s)) == s for every byte string.
std::u32string decode_utf8(std::string_view s);
// Appends the UTF-8 form of `cp`; U+DC80..U+DCFF turn back into the raw byte they stand for.
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view cps);
// Number of code points (invalid bytes count one each).
size_t utf8_length(std::string_view s);

// Python's str.isspace() for one code point.
bool py_isspace(char32_t cp);
// Python's str.isprintable() for one code point (Unicode categories approximated by the ranges
// that matter in text: controls, format characters, separators, private use, noncharacters).
bool py_isprintable(char32_t cp);

// str.strip/lstrip/rstrip. `chars` == nullptr strips whitespace, otherwise any of its code points.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) and str.rsplit; sep == nullptr splits on whitespace runs.
// REQUIRES: *sep is not empty (the caller reports Python's ValueError).
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit,
                                  bool from_right);
// str.splitlines(keepends=False): splits on \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029.
std::vector<std::string> py_splitlines(std::string_view s);
// str.replace(old, new, count); count < 0 replaces all. An empty `old` inserts between code points.
std::string py_replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                       int64_t count);

// Case mapping per code point (ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other
// scripts have no case or are left unchanged).
char32_t py_upper(char32_t cp);
char32_t py_lower(char32_t cp);
bool py_isupper_cp(char32_t cp);
bool py_islower_cp(char32_t cp);
std::string py_upper_str(std::string_view s);
std::string py_lower_str(std::string_view s);

// repr() of a str: quotes chosen as Python does, escapes for backslash, the quote, \t \n \r and
// non-printable code points (\xNN, \uNNNN, \UNNNNNNNN).
void append_py_repr(std::string& out, std::string_view s);
// repr()/str() of a float: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string py_float_repr(double d);

// Python slice semantics on a sequence of `len` items: fills the selected indexes.
// `start`/`stop`/`step` are nullptr when omitted. REQUIRES: step != 0 when given.
std::vector<int64_t> py_slice_indexes(int64_t len, const int64_t* start, const int64_t* stop,
                                      const int64_t* step);

// markupsafe.escape(): & < > " ' become HTML entities.
std::string html_escape(std::string_view s);

}  // namespace sobre::chat::jinja
