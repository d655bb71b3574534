// Built-in filters, tests, methods and globals. Expected strings in the table come from Jinja2
// in Hugging Face's environment (see render_case.h), not from this engine.
#include <gtest/gtest.h>

#include "render_case.h"

namespace sobre::chat {
namespace {

using testing_util::render;
using testing_util::render_error;
using testing_util::RenderCase;

// Expected strings: Jinja2 3.1.6 in Hugging Face's environment (trim_blocks,
// lstrip_blocks, ImmutableSandboxedEnvironment, HF tojson), not this engine.
const RenderCase kBuiltinCases[] =
    {
        {"TojsonDefaultSeparators", R"~({{ tool | tojson }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~({"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Zürich", "東京"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}})~"},
        {"TojsonIndent", R"~({{ tool | tojson(indent=4) }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~({
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather <now> & \"later\"",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {
                    "type": "string",
                    "enum": [
                        "Zürich",
                        "東京"
                    ]
                },
                "days": {
                    "type": "integer",
                    "default": 1
                },
                "x": {
                    "type": "number",
                    "minimum": -1.5e-07,
                    "maximum": 1e+16
                }
            },
            "required": [
                "city"
            ]
        }
    }
})~"},
        {"TojsonIndentEmptyAndNested",
         R"~({{ [[], {}, [1, [2]], {'a': {}}] | tojson(indent=2) }})~", R"~({})~",
         R"~([
  [],
  {},
  [
    1,
    [
      2
    ]
  ],
  {
    "a": {}
  }
])~"},
        {"TojsonSortKeysAndSeparators",
         R"~({{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }} {{ {'b': {'d': 1, 'c': 2}} | tojson(indent=1, sort_keys=true) }})~", R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~({"a": 2, "b": 1} {"b":1,"a":2} {
 "b": {
  "c": 2,
  "d": 1
 }
})~"},
        {"TojsonStringEscapes", R"~({{ u | tojson }} {{ 'q"b\\s\n\r\t\b\f' | tojson }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~("é漢😀‍ \u0001" "q\"b\\s\n\r\t\b\f")~"},
        {"TojsonEnsureAscii",
         R"~({{ u | tojson(ensure_ascii=true) }} {{ tool.function.parameters.properties.city | tojson(ensure_ascii=True) }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~("\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f" {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]})~"},
        {"TojsonNumbersAndScalars",
         R"~({{ [1, -2, 0.5, 1e16, 1e-05, 100.0, true, false, none] | tojson }} {{ 'x' | tojson }} {{ 3 | tojson }})~",
         R"~({})~", R"~([1, -2, 0.5, 1e+16, 1e-05, 100.0, true, false, null] "x" 3)~"},
        {"TojsonNonStringKeys", R"~({{ {1: 'a', true: 'b', none: 'c', 2.5: 'd'} | tojson }})~",
         R"~({})~", R"~({"1": "b", "null": "c", "2.5": "d"})~"},
        {"TojsonTuple", R"~({{ (1, 'a') | tojson }})~", R"~({})~", R"~([1, "a"])~"},
        {"TojsonThenSlice", R"~({% set out = tool.function | tojson %}{{ out[:-1] }}, "id": 1}})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~", R"~({"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Zürich", "東京"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}, "id": 1}})~"},
        {"TrimFilter",
         R"~([{{ s | trim }}][{{ 'xxhixx' | trim('x') }}][{{ '\u3000\u00a0a\u2003' | trim }}])~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~([Hello World][hi][a])~"},
        {"CaseFilters",
         R"~({{ s | upper }} {{ s | lower }} {{ 'hello wORLD-x(y' | title }} {{ 'hELLO' | capitalize }} {{ 'stra\u00dfe \u00e9cole \u043f\u0440\u0438' | upper }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(  HELLO WORLD     hello world   Hello World-X(Y Hello STRASSE ÉCOLE ПРИ)~"},
        {"ReplaceFilter",
         R"~({{ s | replace('l', 'L') }} {{ s | replace('l', '', 1) }} {{ 'ab' | replace('', '-') }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(  HeLLo WorLd     Helo World   -a-b-)~"},
        {"StringFilter",
         R"~({{ 1 | string }} {{ 1.5 | string }} {{ true | string }} {{ z | string }} {{ l | string }} {{ d | string }} {{ (1,) | string }} {{ nope | string }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(1 1.5 True None [3, 1, 2] {'b': 1, 'a': 2} (1,) )~"},
        {"LengthAndCount",
         R"~({{ s | length }} {{ l | length }} {{ d | length }} {{ u | length }} {{ nope | length }} {{ l | count }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(15 3 2 7 0 3)~"},
        {"IndentFilter",
         R"~([{{ 'a\nb\n\nc' | indent(2) }}][{{ 'a\nb' | indent(2, true) }}][{{ 'a\n\nb' | indent(2, blank=true) }}][{{ 'a\nb' | indent('> ') }}])~",
         R"~({})~",
         R"~([a
  b

  c][  a
  b][a
  
  b][a
> b])~"},
        {"FormatFilterAndPercent",
         R"~({{ '%s-%d-%05.2f-%r-%x-%%' | format('a', 3, 3.14159, 'q', 255) }} {{ '%s' % 5 }} {{ '%(a)s!' % {'a': 1} }} {{ '%5s|%-5s|' % ('ab', 'cd') }} {{ '%.3s' % 'abcdef' }})~",
         R"~({})~", R"~(a-3-03.14-'q'-ff-% 5 1!    ab|cd   | abc)~"},
        {"EscapeAndSafe",
         R"~({{ '<a href="x">&\'' | e }} {{ '<b>' | safe }} {{ ('<a>' | safe) + '<b>' }} {{ '<b>' + ('<a>' | safe) }} {{ ('<a>' | safe) ~ '<b>' }})~",
         R"~({})~",
         R"~(&lt;a href=&#34;x&#34;&gt;&amp;&#39; <b> <a>&lt;b&gt; &lt;b&gt;<a> <a><b>)~"},
        {"WordcountAndCenter", R"~({{ ' a  b\nc ' | wordcount }}[{{ 'ab' | center(7) }}])~",
         R"~({})~", R"~(3[   ab  ])~"},
        {"JoinFilter",
         R"~({{ l | join }} {{ l | join(', ') }} {{ msgs | join('|', attribute='role') }} {{ 'abc' | join('.') }} {{ d | join(',') }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(312 3, 1, 2 user|tool|user a.b.c b,a)~"},
        {"FirstLastListReverse",
         R"~({{ l | first }} {{ l | last }} {{ 'ab' | list }} {{ d | list }} {{ l | reverse | list }} {{ 'abc' | reverse }} {{ [] | first is defined }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(3 2 ['a', 'b'] ['b', 'a'] [2, 1, 3] cba False)~"},
        {"SortFilter",
         R"~({{ l | sort }} {{ l | sort(reverse=true) }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ msgs | sort(attribute='content') | map(attribute='content') | join }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~([1, 2, 3] [3, 2, 1] ['A', 'a', 'b'] ['A', 'a', 'b'] TUV)~"},
        {"UniqueFilter",
         R"~({{ [1, 2, 1, 3] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ ['a', 'A'] | unique(case_sensitive=true) | list }})~",
         R"~({})~", R"~([1, 2, 3] ['a', 'b'] ['a', 'A'])~"},
        {"DictsortFilter",
         R"~({{ d | dictsort }} {{ d | dictsort(by='value') }} {{ d | dictsort(reverse=true) }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~([('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)])~"},
        {"ItemsFilter",
         R"~({% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} {{ nope | items | list }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(b1a2 [])~"},
        {"SelectRejectMap",
         R"~({{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [0, 1, ''] | select | list }} {{ l | select('gt', 1) | list }} {{ msgs | map(attribute='role') | join(' ') }} {{ ['A', 'b'] | map('lower') | list }} {{ msgs | map(attribute='nope', default='-') | join }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(a,b [1, 3] [1] [3, 2] user tool user ['a', 'b'] ---)~"},
        {"SelectattrRejectattr",
         R"~({{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }} {{ msgs | rejectattr('role', 'equalto', 'user') | list | length }} {{ [{'a': 0}, {'a': 1}] | selectattr('a') | list }})~", R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(UV 1 [{'a': 1}])~"},
        {"NumericFilters",
         R"~({{ n | abs }} {{ 2.5 | abs }} {{ l | sum }} {{ l | min }} {{ l | max }} {{ words | min }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 15 | round(-1) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(0, 'floor') }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(5 2.5 6 1 3 A 2.57 2.0 4.0 20 3.0 2.0)~"},
        {"IntFloatDefault",
         R"~({{ '42' | int }} {{ ' 7 ' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(9) }} {{ 3.9 | int }} {{ '0x1f' | int(0, 16) }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ nope | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ z | d('e', true) }})~",
         R"~({})~", R"~(42 7 4 0 9 3 31 2.5 0.0 3.0 d  d e)~"},
        {"BatchFilter",
         R"~({{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 'x') | list }})~",
         R"~({})~", R"~([[1, 2], [3, 4], [5]] [[1, 2], [3, 'x']])~"},
        {"AttrFilterReadsAttributesNotItems",
         R"~({{ {'a': 1} | attr('a') is defined }} {{ (namespace(a=1) | attr('a')) }})~", R"~({})~",
         R"~(False 1)~"},
        {"StripMethods",
         R"~([{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ '\n\nx\n'.strip('\n') }}][{{ 'xyhiyx'.strip('xy') }}])~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~([Hello World][Hello World  ][  Hello World][x][hi])~"},
        {"SplitMethods",
         R"~({{ s.split() }} {{ s.split(' ') }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ '  a b  '.split(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ''.split() }} {{ ''.split(',') }} {{ 'a\r\nb\nc'.splitlines() }})~", R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(['Hello', 'World'] ['', '', 'Hello', 'World', '', ''] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a', 'b  '] ['a,b', 'c'] [] [''] ['a', 'b', 'c'])~"},
        {"SplitThenIndex",
         R"~({{ '<think>r</think>\n\nans'.split('</think>')[-1].lstrip('\n') }}|{{ '<think>r</think>x'.split('</think>')[0].split('<think>')[-1] }}|{{ 'a</think>b</think>c'.split('</think>', 1)[1] }})~",
         R"~({})~", R"~(ans|r|b</think>c)~"},
        {"AffixMethods",
         R"~({{ s.startswith('  H') }} {{ s.endswith(('x', '  ')) }} {{ 'abc'.startswith('b', 1) }} {{ 'abc'.removeprefix('a') }} {{ 'abc'.removesuffix('c') }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(True True True bc ab ('a', '=', 'b=c') ('a=b', '=', 'c'))~"},
        {"CaseMethods",
         R"~({{ s.upper() }} {{ s.lower() }} {{ "they're bill's".title() }} {{ 'hELLO'.capitalize() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ '123'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' \t'.isspace() }} {{ ''.isdigit() }})~", R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(  HELLO WORLD     hello world   They'Re Bill'S Hello True True True True True False)~"},
        {"FindCountReplaceJoin",
         R"~({{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('zz') }} {{ s.index('W') }} {{ s.count('l') }} {{ s.replace('l', 'L', 2) }} {{ '-'.join(['a', 'b']) }} {{ ', '.join(l | map('string')) }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(6 9 -1 8 3   HeLLo World   a-b 3, 1, 2)~"},
        {"PadMethods",
         R"~([{{ 'ab'.ljust(4) }}][{{ 'ab'.rjust(4, '*') }}][{{ 'ab'.center(5) }}][{{ '-42'.zfill(6) }}])~",
         R"~({})~", R"~([ab  ][**ab][  ab ][-00042])~"},
        {"DictMethods",
         R"~({{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 7) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d.copy() == d }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~",
         R"~(2 None 7 ['b', 'a'] [1, 2] [('b', 1), ('a', 2)] True)~"},
        {"ListMethods", R"~({{ l.index(1) }} {{ l.count(3) }} {{ l.copy() }})~",
         R"~({"s": "  Hello World  ", "l": [3, 1, 2], "words": ["b", "A", "a"], "d": {"b": 1, "a": 2}, "n": -5, "z": null, "msgs": [{"role": "user", "content": "U"}, {"role": "tool", "content": "T"}, {"role": "user", "content": "V"}], "tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & \"later\"", "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Z\u00fcrich", "\u6771\u4eac"]}, "days": {"type": "integer", "default": 1}, "x": {"type": "number", "minimum": -1.5e-07, "maximum": 1e+16}}, "required": ["city"]}}}, "u": "\u00e9\u6f22\ud83d\ude00\u200d\u2028\u0001\u007f"})~", R"~(1 1 [3, 1, 2])~"},
        {"RangeGlobal",
         R"~({{ range(4) | list }} {{ range(1, 8, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(3, 1) | list }})~",
         R"~({})~", R"~([0, 1, 2, 3] [1, 4, 7] [5, 3, 1] [])~"},
        {"DictGlobal", R"~({{ dict(a=1, b='x') }} {{ dict({'k': 1}) | tojson }})~", R"~({})~",
         R"~({'a': 1, 'b': 'x'} {"k": 1})~"},
        {"StrftimeNow",
         R"~({{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B %j') }})~",
         R"~({})~", R"~(2025-01-15 12:00:00 15 Jan 2025 Wednesday January 015)~"},
};

class BuiltinCase : public ::testing::TestWithParam<RenderCase> {};

TEST_P(BuiltinCase, MatchesJinja2) {
    const RenderCase& c = GetParam();
    EXPECT_EQ(render(c.tmpl, c.context), c.expected) << c.tmpl;
}

INSTANTIATE_TEST_SUITE_P(Jinja, BuiltinCase, ::testing::ValuesIn(kBuiltinCases),
                         testing_util::case_name);

void expect_error(const std::string& tmpl, ErrorKind kind, const std::string& message) {
    const Error e = render_error(tmpl);
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_EQ(std::string(e.what()), "template line 1: " + message);
}

TEST(Builtins, UnknownNamesAreErrorsNamingThem) {
    expect_error("{{ [1] | shuffle }}", ErrorKind::kUnsupported, "no filter named 'shuffle'");
    expect_error("{{ 1 is prime }}", ErrorKind::kUnsupported, "no test named 'prime'");
    // Python has str.format, but this engine does not implement it: a named error, not output.
    expect_error("{{ '{}'.format(1) }}", ErrorKind::kUnsupported,
                 "str method 'format' is not supported");
    expect_error("{{ 'a'.swapcase() }}", ErrorKind::kUnsupported,
                 "str method 'swapcase' is not supported");
    // Not a Python attribute at all: undefined, and calling undefined fails.
    expect_error("{{ 'a'.frobnicate() }}", ErrorKind::kInvalidArgument,
                 "'str object' has no attribute 'frobnicate'");
}

TEST(Builtins, ImmutableSandboxRefusesMutation) {
    for (const char* call :
         {"[1].append(2)", "[1].pop()", "{'a': 1}.update({'b': 2})", "{'a': 1}.pop('a')"}) {
        const Error e = render_error(std::string("{{ ") + call + " }}");
        EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << call;
        EXPECT_NE(std::string(e.what()).find("use namespace() to carry state"), std::string::npos)
            << e.what();
    }
}

TEST(Builtins, ArgumentErrors) {
    expect_error("{{ 'a' | trim('x', 'y') }}", ErrorKind::kInvalidArgument,
                 "trim() takes at most 1 argument(s) (2 given)");
    expect_error("{{ [1] | join(sep=',') }}", ErrorKind::kInvalidArgument,
                 "join() got an unexpected keyword argument 'sep'");
    expect_error("{{ 'a'.split('') }}", ErrorKind::kInvalidArgument, "empty separator");
    expect_error("{{ ''.join(['a', 1]) }}", ErrorKind::kInvalidArgument,
                 "sequence item 1: expected str instance, int found");
    expect_error("{{ 5 | items }}", ErrorKind::kInvalidArgument,
                 "Can only get item pairs from a mapping.");
    expect_error("{{ 5 | length }}", ErrorKind::kInvalidArgument,
                 "object of type 'int' has no len()");
    expect_error("{{ ['a'] | sum(start='') }}", ErrorKind::kInvalidArgument,
                 "sum() can't sum strings [use ''.join(seq) instead]");
    expect_error("{{ '%d' % 'x' }}", ErrorKind::kInvalidArgument,
                 "%d format: a real number is required, not str");
    expect_error("{{ '%s %s' % (1,) }}", ErrorKind::kInvalidArgument,
                 "not enough arguments for format string");
}

TEST(Builtins, TojsonRefusesWhatJsonCannotHold) {
    expect_error("{{ nope | tojson }}", ErrorKind::kInvalidArgument,
                 "Object of type Undefined is not JSON serializable");
    expect_error("{{ namespace(a=1) | tojson }}", ErrorKind::kInvalidArgument,
                 "Object of type Namespace is not JSON serializable");
    expect_error("{{ {(1, 2): 3} | tojson }}", ErrorKind::kInvalidArgument,
                 "keys must be str, int, float, bool or None, not tuple");
}

TEST(Builtins, RangeIsBoundedLikeTheSandbox) {
    EXPECT_EQ(render("{{ range(100000) | length }}"), "100000");
    expect_error("{{ range(100001) }}", ErrorKind::kResourceExhausted,
                 "range too big: the sandbox allows at most 100000 items");
}

TEST(Builtins, RaiseExceptionAndStrftimeNowArguments) {
    expect_error("{{ raise_exception() }}", ErrorKind::kInvalidArgument, "");
    expect_error("{{ strftime_now() }}", ErrorKind::kInvalidArgument,
                 "strftime_now() missing argument 'format'");
}

}  // namespace
}  // namespace sobre::chat
