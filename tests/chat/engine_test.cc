// The template engine's syntax and semantics: whitespace control, literals, operators, scoping,
// loops, macros and blocks, plus syntax and runtime errors. Expected strings in the table come
// from Jinja2 (see render_case.h), not from this engine.
#include <gtest/gtest.h>

#include <thread>

#include "render_case.h"

namespace sobre::chat {
namespace {

using testing_util::render;
using testing_util::render_error;
using testing_util::RenderCase;

// Expected strings: Jinja2 3.1.6 in Hugging Face's environment (trim_blocks,
// lstrip_blocks, ImmutableSandboxedEnvironment, HF tojson), not this engine.
const RenderCase kEngineCases[] =
    {
        {"TrimBlocksDropsNewlineAfterTag", R"~({% if t %}
yes
{% endif %}
end)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(yes
end)~"},
        {"LstripBlocksDropsIndentBeforeTag", R"~(  {% if t %}
  x
  {% endif %}
  y)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(  x
  y)~"},
        {"LstripIgnoresExpressionTags", R"~(  {{ n }}
  {% if t %}a{% endif %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(  5
a)~"},
        {"MinusStripsAllWhitespace", R"~(a  
  {%- if t -%}  
  b  
  {%- endif -%}
  c)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(abc)~"},
        {"PlusKeepsWhitespace", R"~(  {%+ if t %}a{% endif +%}
b)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(  a
b)~"},
        {"ExpressionMinus", R"~(a 
 {{- n -}} 
 b)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(a5b)~"},
        {"CommentsTrimAndStrip", R"~(x {# c #}
y
  {#- c -#}  
z{# c #}
)~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(x yz)~"},
        {"OneTrailingNewlineDropped", R"~(a

)~",
         R"~({})~",
         R"~(a
)~"},
        {"CrLfNormalized", R"~(a
bc
)~",
         R"~({})~",
         R"~(a
b
c)~"},
        {"TemplateTextBackslashIsLiteral", R"~(a\nb {{ 'c\nd' }})~", R"~({})~",
         R"~(a\nb c
d)~"},
        {"RawBlock", R"~({% raw %}{{ x }}{% if %}{% endraw %}|{%- raw -%}  k  {%- endraw %})~",
         R"~({})~", R"~({{ x }}{% if %}|k)~"},
        {"BracesInsideExpressions", R"~({{ {'a': {'b': 1}} }}{{ '}}' }})~", R"~({})~",
         R"~({'a': {'b': 1}}}})~"},
        {"StringEscapes", R"~({{ 'a\tb\\c\'d\"e\x41\u00e9\U0001F600\101\q' }})~", R"~({})~",
         R"~(a	b\c'd"eAé😀A\q)~"},
        {"AdjacentStringsConcatenate", R"~({{ 'a' "b" 'c' }})~", R"~({})~", R"~(abc)~"},
        {"NumberLiterals",
         R"~({{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2.5E-3 }})~", R"~({})~",
         R"~(1000 31 15 5 1500.0 0.0025)~"},
        {"BoolAndNoneSpellings",
         R"~({{ true }} {{ True }} {{ false }} {{ False }} {{ none }} {{ None }})~", R"~({})~",
         R"~(True True False False None None)~"},
        {"ListTupleDictLiterals",
         R"~({{ [1, 'a', none] }} {{ (1,) }} {{ (1, 2) }} {{ () }} {{ {'k': [1], 2: 'v'} }} {{ [1, 2,] }})~",
         R"~({})~", R"~([1, 'a', None] (1,) (1, 2) () {'k': [1], 2: 'v'} [1, 2])~"},
        {"PrintsLikePython",
         R"~({{ 3 }} {{ 2.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 123.456 }} {{ t }} {{ z }} {{ l }} {{ d }} {{ 'it\'s' }} {{ ['it\'s', 'q"', 'a\nb'] }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(3 2.0 0.30000000000000004 1e+16 1e-05 123.456 True None [3, 1, 2] {'b': 1, 'a': [True, None]} it's ["it's", 'q"', 'a\nb'])~"},
        {"UndefinedPrintsNothing", R"~([{{ missing }}][{{ d.missing }}][{{ l[10] }}])~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~([][][])~"},
        {"Arithmetic",
         R"~({{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -n }} {{ +n }} {{ 1 + 2.5 }} {{ true + 1 }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(3 -4 1 2 3.5 1024 0.5 -5 5 3.5 2)~"},
        {"Precedence",
         R"~({{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ -2 ** 2 }} {{ 'a' ~ 2 * 3 }} {{ l | length - 1 }} {{ not n == 5 }} {{ n > 3 and n < 10 or false }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(14 20 4 a6 2 False True)~"},
        {"ConcatStringifies", R"~({{ 'a' ~ 1 ~ none ~ true ~ missing ~ [1] }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(a1NoneTrue[1])~"},
        {"PlusJoinsStringsAndLists",
         R"~({{ 'a' + 'b' }} {{ [1] + [2] }} {{ (1,) + (2,) }} {{ 'ab' * 2 }} {{ [0] * 3 }})~",
         R"~({})~", R"~(ab [1, 2] (1, 2) abab [0, 0, 0])~"},
        {"AndOrReturnOperands",
         R"~([{{ '' or 'x' }}][{{ 0 and 1 }}][{{ n and 'y' }}][{{ z or s }}])~", R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~([x][0][y][  Hi  ])~"},
        {"Comparisons",
         R"~({{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ (1, 2) == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ none == false }} {{ missing == missing }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(True False True True True True False True False True)~"},
        {"Membership",
         R"~({{ 'i' in s }} {{ 1 in l }} {{ 'a' in d }} {{ 'x' not in d }} {{ 'x' in missing }} {{ missing in l }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(True True True True False False)~"},
        {"InlineIf",
         R"~([{{ 'y' if t else 'n' }}][{{ 'y' if f }}][{{ 1 if f else 2 if t else 3 }}])~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~([y][][2])~"},
        {"IndexingAndSlicing",
         R"~({{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-10:10] }} {{ l[None:1] }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(3 2 [1, 2] [3, 1] [2, 1, 3] [3, 2] [3, 1, 2] [3])~"},
        {"StringIndexingCountsCodePoints",
         R"~({{ 'héllo'[1] }} {{ 'héllo'[1:3] }} {{ 'héllo'[::-1] }} {{ 'éé' | length }})~",
         R"~({})~", R"~(é él olléh 2)~"},
        {"AttributeFallsBackToItem",
         R"~({{ msgs[0].role }} {{ msgs[0]['role'] }} {{ msgs.0.role }} {{ d.a.0 }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(system system system True)~"},
        {"DictMethodsShadowKeys",
         R"~({% set x = {'items': 1, 'keys': 2} %}{{ x['items'] }} {{ x.get('keys') }} {{ x.items() | list }})~",
         R"~({})~", R"~(1 2 [('items', 1), ('keys', 2)])~"},
        {"MissingThingsAreUndefined",
         R"~({{ d.nope is defined }} {{ d['nope'] is defined }} {{ l[9] is defined }} {{ z.attr is defined }} {{ s.nope is defined }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(False False False False False)~"},
        {"IfElifElse",
         R"~({% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %} {% endfor %})~",
         R"~({})~", R"~(one two many )~"},
        {"IfBodyIsNotAScope", R"~({% if t %}{% set v = 1 %}{% endif %}{{ v }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(1)~"},
        {"ForLoopVariables",
         R"~({% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(1032TrueFalse31;2121FalseFalse332;3210FalseTrue31;)~"},
        {"ForLoopCycle", R"~({% for x in l %}{{ loop.cycle('a', 'b') }}{% endfor %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(aba)~"},
        {"ForOverDictStringAndTuples",
         R"~({% for k in d %}{{ k }}{% endfor %} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for c in 'ab' %}[{{ c }}]{% endfor %} {% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(ba b=1;a=[True, None]; [a][b] 37)~"},
        {"ForWithFilterAndElse", R"~({% for x in l if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in missing %}x{% else %}undef{% endfor %})~", R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(3:1/2 2:2/2 |empty|undef)~"},
        {"NestedLoopsHaveTheirOwnLoop",
         R"~({% for i in [1, 2] %}{% for j in 'ab' %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %})~",
         R"~({})~", R"~(1a1 1b2 1|2a1 2b2 2|)~"},
        {"BreakAndContinue",
         R"~({% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %})~",
         R"~({})~", R"~(13)~"},
        {"SetInLoopIsPerIteration",
         R"~({% set x = 0 %}{% for i in l %}{{ x }}{% set x = i %}{{ x }},{% endfor %}{{ x }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(03,01,02,0)~"},
        {"LoopVariableDoesNotLeak", R"~({% for i in l %}{% endfor %}[{{ i }}])~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~([])~"},
        {"NamespaceCarriesStateOutOfLoops",
         R"~({% set ns = namespace(total=0, names='') %}{% for m in msgs %}{% set ns.total = ns.total + 1 %}{% set ns.names = ns.names ~ m.role[0] %}{% endfor %}{{ ns.total }} {{ ns.names }} {{ ns }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(3 sua <Namespace {'total': 3, 'names': 'sua'}>)~"},
        {"NamespaceFromDict",
         R"~({% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns['a'] }})~", R"~({})~",
         R"~(121)~"},
        {"TopLevelSetShadowsContext",
         R"~({% if msgs[0].role == 'system' %}{% set msgs = msgs[1:] %}{% endif %}{% for m in msgs %}{{ m.role }} {% endfor %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(user assistant )~"},
        {"TupleUnpackingSet",
         R"~({% set a, b = 1, 2 %}{% set c, e = [3, 4] %}{{ a }}{{ b }}{{ c }}{{ e }})~", R"~({})~",
         R"~(1234)~"},
        {"SetBlockWithFilter", R"~({% set block %}
  x {{ n }}
{% endset %}[{{ block }}]{% set up | upper | trim %}  abc {% endset %}[{{ up }}])~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~([  x 5
][ABC])~"},
        {"FilterBlock", R"~({% filter upper %}hello {{ s }}{% endfilter %})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(HELLO   HI  )~"},
        {"WithBlockScope",
         R"~({% with a = 1, b = n %}{{ a + b }}{% set c = 3 %}{{ c }}{% endwith %}[{{ a }}{{ c }}])~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(63[])~"},
        {"MacroDefaultsAndKeywords",
         R"~({% macro m(a, b='dflt', c=none) %}[{{ a }}|{{ b }}|{{ c }}]{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(c=3, a=4) }}{{ m() }})~",
         R"~({})~", R"~([1|dflt|None][1|2|None][4|dflt|3][|dflt|None])~"},
        {"MacroRecursion",
         R"~({% macro r(x) %}{% if x > 0 %}{{ x }}{{ r(x - 1) }}{% endif %}{% endmacro %}{{ r(4) }})~",
         R"~({})~", R"~(4321)~"},
        {"MacroVarargsKwargs",
         R"~({% macro v(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, 3, k='w') }})~",
         R"~({})~", R"~(1(2, 3){'k': 'w'})~"},
        {"MacroSeesGlobalsAtCallTime",
         R"~({% set g = 1 %}{% macro m() %}{{ g }}{% set g = 9 %}{{ g }}{% endmacro %}{% set g = 2 %}{{ m() }}{{ g }})~",
         R"~({})~", R"~(292)~"},
        {"MacroDoesNotSeeCallersLoop",
         R"~({% macro m() %}[{{ i }}]{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %})~",
         R"~({})~", R"~([])~"},
        {"MacroResultIsAString",
         R"~({% macro m() %}  x  {% endmacro %}[{{ m() | trim }}][{{ m().strip().upper() }}][{{ m() | length }}])~",
         R"~({})~", R"~([x][X][5])~"},
        {"MacroMissingArgumentIsUndefined",
         R"~({% macro m(a) %}{{ a is defined }}{% endmacro %}{{ m() }})~", R"~({})~", R"~(False)~"},
        {"IsTests",
         R"~({{ n is defined }} {{ nope is undefined }} {{ z is none }} {{ s is string }} {{ d is mapping }} {{ l is sequence }} {{ s is iterable }} {{ d is iterable }} {{ n is number }} {{ n is integer }} {{ 1.5 is float }} {{ t is boolean }} {{ f is false }} {{ 0 is false }} {{ t is true }} {{ n is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ n is not none }} {{ 3 is in l }} {{ 'A' is upper }} {{ 'a' is lower }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(True True True True True True True True True True True True True False True True True True True True True True)~"},
        {"UndefinedIsIterableAndSequence",
         R"~({{ nope is iterable }} {{ nope is sequence }} {{ nope is mapping }} {{ nope is string }})~",
         R"~({})~", R"~(True True False False)~"},
        {"TestBindsTighterThanNot", R"~({{ not nope is defined }} {{ not n is defined }} {{ nope is not defined and true }})~", R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(True False True)~"},
        {"EqualityTests",
         R"~({{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is gt 1 }} {{ 2 is ge 3 }} {{ 'a' is lt 'b' }} {{ 1 is ne 1 }} {{ l is sameas l }})~",
         R"~({"t": true, "f": false, "n": 5, "s": "  Hi  ", "l": [3, 1, 2], "d": {"b": 1, "a": [true, null]}, "z": null, "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})~",
         R"~(True False True False True False True)~"},
};

class EngineCase : public ::testing::TestWithParam<RenderCase> {};

TEST_P(EngineCase, MatchesJinja2) {
    const RenderCase& c = GetParam();
    EXPECT_EQ(render(c.tmpl, c.context), c.expected) << c.tmpl;
}

INSTANTIATE_TEST_SUITE_P(Jinja, EngineCase, ::testing::ValuesIn(kEngineCases),
                         testing_util::case_name);

// ---- syntax errors: reported at parse time with the line --------------------------------------

void expect_syntax_error(const std::string& tmpl, const std::string& needle) {
    try {
        Template t(tmpl);
        ADD_FAILURE() << "parsed: " << tmpl;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(EngineSyntax, ErrorsNameTheProblemAndLine) {
    expect_syntax_error("a\n{% frobnicate %}", "template line 2: unknown tag 'frobnicate'");
    expect_syntax_error("{% if x %}\n{% endfor %}",
                        "unknown tag 'endfor' (the innermost open block expects 'endif')");
    expect_syntax_error("{% if x %}", "unexpected end of template: expected 'endif'");
    expect_syntax_error("{% for x in y %}", "expected 'endfor'");
    expect_syntax_error("{% endif %}", "unknown tag 'endif'");
    expect_syntax_error("{{ 1 + }}", "unexpected '}}'");
    expect_syntax_error("{{ 'open }}", "unterminated string literal");
    expect_syntax_error("{{ x ", "missing '}}'");
    expect_syntax_error("{# no end", "missing end of comment tag");
    expect_syntax_error("{{ (1 }}", "unexpected '}', expected ')'");
    expect_syntax_error("{{ 1) }}", "unexpected ')'");
    expect_syntax_error("{% break %}", "'break' outside of a loop");
    expect_syntax_error("{% macro m(a, a) %}{% endmacro %}", "duplicate macro parameter 'a'");
    expect_syntax_error("{% macro m(a=1, b) %}{% endmacro %}",
                        "non-default argument 'b' follows default argument");
    expect_syntax_error("{% set 1 = 2 %}", "can't assign to '1'");
    expect_syntax_error("{% include 'x' %}", "tag 'include' is not supported");
    expect_syntax_error("{{ x is defined is string }}", "cannot chain multiple tests");
    expect_syntax_error("{{ f(a=1, 2) }}", "positional argument follows keyword argument");
    expect_syntax_error("{{ '\\x4' }}", "truncated \\x escape");
    expect_syntax_error("{{ 99999999999999999999 }}", "out of range");
    expect_syntax_error("{{ @ }}", "unexpected character '@'");
}

TEST(EngineSyntax, UnknownFiltersAndTestsFailOnlyWhenReached) {
    // As in Jinja2, an unsupported filter on a branch that is not taken does not stop the render.
    EXPECT_EQ(render("{% if false %}{{ x | from_json }}{% endif %}ok"), "ok");
    const Error e = render_error("{% if true %}\n{{ '{}' | from_json }}{% endif %}");
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_STREQ(e.what(), "template line 2: no filter named 'from_json'");
    const Error t = render_error("{{ 1 is prime }}");
    EXPECT_EQ(t.kind(), ErrorKind::kUnsupported);
    EXPECT_STREQ(t.what(), "template line 1: no test named 'prime'");
}

// ---- runtime errors: Python's TypeError/UndefinedError cases ---------------------------------

void expect_render_error(const std::string& tmpl, const std::string& needle,
                         ErrorKind kind = ErrorKind::kInvalidArgument,
                         const std::string& ctx = "{}") {
    const Error e = render_error(tmpl, ctx);
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << tmpl << " -> " << e.what();
}

TEST(EngineRuntime, UndefinedMisuseFailsNamingIt) {
    expect_render_error("{{ nope.attr }}", "'nope' is undefined");
    expect_render_error("{{ nope['k'] }}", "'nope' is undefined");
    expect_render_error("{{ nope() }}", "'nope' is undefined");
    expect_render_error("{{ nope + 1 }}", "'nope' is undefined");
    expect_render_error("{{ nope < 1 }}", "'nope' is undefined");
    expect_render_error("{{ {'a': 1}.b.c }}", "'dict object' has no attribute 'b'");
    expect_render_error("{{ none.split() }}", "'None' has no attribute 'split'");
    expect_render_error("{{ 'abc'.items() }}", "'str object' has no attribute 'items'");
}

TEST(EngineRuntime, TypeErrorsLikePython) {
    expect_render_error("{{ 1 + 'a' }}", "unsupported operand type(s) for +: 'int' and 'str'");
    expect_render_error("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str");
    expect_render_error("{{ none + 1 }}",
                        "unsupported operand type(s) for +: 'NoneType' and 'int'");
    expect_render_error("{{ 1 / 0 }}", "division by zero");
    expect_render_error("{{ 1 // 0 }}", "integer division or modulo by zero");
    expect_render_error("{{ 1 < 'a' }}", "'<' not supported between instances of 'int' and 'str'");
    expect_render_error("{{ 'x' in none }}", "argument of type 'NoneType' is not iterable");
    expect_render_error("{{ 1 in 'abc' }}",
                        "'in <string>' requires string as left operand, not int");
    expect_render_error("{% for x in 5 %}{% endfor %}", "'int' object is not iterable");
    expect_render_error("{% for a, b in [(1, 2, 3)] %}{% endfor %}",
                        "too many values to unpack (expected 2, got 3)");
    expect_render_error("{{ {[1]: 2} }}", "unhashable type: 'list'");
    expect_render_error("{{ -'a' }}", "bad operand type for unary -: 'str'");
    expect_render_error("{{ 5() }}", "'int' object is not callable");
    expect_render_error("{{ 'abc'[::0] }}", "slice step cannot be zero");
}

TEST(EngineRuntime, AssignmentAndMacroErrors) {
    expect_render_error("{% set d = {} %}{% set d.x = 1 %}",
                        "cannot assign attribute 'x' on 'd': it is not a namespace() object");
    expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
                        "macro 'm' takes not more than 1 argument(s)");
    expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}",
                        "macro 'm' has no argument 'b'");
    expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(1, a=2) }}",
                        "macro 'm' got multiple values for argument 'a'");
}

TEST(EngineRuntime, RaiseExceptionCarriesTheTemplatesMessage) {
    const Error e =
        render_error("line one\n{{ raise_exception('Conversation roles must alternate!') }}");
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "template line 2: Conversation roles must alternate!");
}

TEST(EngineRuntime, IntegersBeyond64BitsAreRefusedNotWrapped) {
    expect_render_error("{{ 9223372036854775807 + 1 }}", "integer overflow",
                        ErrorKind::kUnsupported);
    expect_render_error("{{ 10 ** 20 }}", "integer overflow", ErrorKind::kUnsupported);
}

// ---- the public API ----------------------------------------------------------------------------

TEST(TemplateApi, ParsesOnceRendersMany) {
    const Template t("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}");
    for (int i = 0; i < 3; ++i) {
        nlohmann::ordered_json ctx = {
            {"messages", {{{"role", "user"}, {"content", std::to_string(i)}}}}};
        EXPECT_EQ(t.render(ctx), "user:" + std::to_string(i) + ";");
    }
}

TEST(TemplateApi, RendersConcurrently) {
    const Template t(
        "{% set ns = namespace(s='') %}{% for i in range(200) %}{% set ns.s = ns.s ~ i %}{% endfor "
        "%}{{ ns.s | length }}");
    std::vector<std::thread> threads;
    std::vector<std::string> out(4);
    for (size_t k = 0; k < out.size(); ++k) {
        threads.emplace_back([&, k] { out[k] = t.render(nlohmann::ordered_json::object()); });
    }
    for (std::thread& th : threads) th.join();
    for (const std::string& o : out) EXPECT_EQ(o, "490");
}

TEST(TemplateApi, KeepsKeyOrderOfOrderedJson) {
    const auto ctx = nlohmann::ordered_json::parse(R"({"x": {"b": 1, "a": 2}})");
    EXPECT_EQ(render_chat("{{ x | tojson }}", ctx), R"({"b": 1, "a": 2})");
    // A plain json sorts its keys on parse; the result follows that order.
    EXPECT_EQ(render_chat("{{ x | tojson }}", nlohmann::json::parse(R"({"x": {"b": 1, "a": 2}})")),
              R"({"a": 2, "b": 1})");
}

TEST(TemplateApi, ContextMustBeAnObject) {
    EXPECT_THROW(render_chat("x", nlohmann::ordered_json::array()), Error);
}

TEST(TemplateApi, ContextFromCase) {
    const auto c =
        nlohmann::ordered_json::parse(R"({"messages": [{"role": "user", "content": "hi"}],
        "tools": null, "add_generation_prompt": true, "extra": {"enable_thinking": false},
        "bos_token": null, "eos_token": "</s>"})");
    const nlohmann::ordered_json ctx = context_from_case(c);
    EXPECT_EQ(
        render_chat(
            "{{ bos_token is defined }} {{ eos_token }} {{ tools is defined }} {{ tools is none }} "
            "{{ add_generation_prompt }} {{ enable_thinking is false }} {{ messages[0].content }}",
            ctx),
        "False </s> True True True True hi");
    EXPECT_THROW(context_from_case(nlohmann::ordered_json::parse(R"({"messages": 3})")), Error);
}

TEST(TemplateApi, StrftimeNowDefaultsToTheClock) {
    const std::string year = render("{{ strftime_now('%Y') }}", "{}", RenderOptions{});
    EXPECT_EQ(year.size(), 4u);
    EXPECT_GE(std::stoi(year), 2025);
}

}  // namespace
}  // namespace sobre::chat
