"""Move templated defaults of role argument_specs into the option's description (antsibull-docs needs literals).

    python3 tools/docs/literal_defaults.py roles/<role>/meta/argument_specs.yml ...

Each `default: "{{ ... }}"` line is removed and its option's description gains "Defaults to the value of C(x),
else C(y)." (a scalar description becomes a list). Line-based: the rest of the file is kept as written.
"""
import re
import sys

PAT = re.compile(r'^(\s*)default: (["\'])(.*\{\{.*)\2\s*$')
SIMPLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\((.*)\))?\s*\}\}$")


def sentence(expr):
    m = SIMPLE.match(expr)
    if m:
        name, fallback = m.groups()
        if fallback is None:
            return "Defaults to the value of C(%s)." % name
        return "Defaults to the value of C(%s), else C(%s)." % (name, fallback)
    return "Defaults to C(%s)." % expr


def fix(path):
    lines = open(path).read().split("\n")
    out, i, n = [], 0, 0
    pending = []  # (indent, sentence) to add to the option being read
    while i < len(lines):
        line = lines[i]
        m = PAT.match(line)
        if not m:
            out.append(line)
            i += 1
            continue
        indent = len(m.group(1))
        expr = m.group(3).replace("''", "'") if m.group(2) == "'" else m.group(3)
        text = sentence(expr)
        # option block: from the option key (indent-2) to the next line with indent <= indent-2
        start = len(out) - 1
        while start >= 0 and (len(out[start]) - len(out[start].lstrip())) >= indent:
            start -= 1
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) >= indent):
            j += 1
        block = out[start + 1:] + lines[i + 1:j]
        del out[start + 1:]
        for k, b in enumerate(block):
            if b.strip().startswith("description:") and len(b) - len(b.lstrip()) == indent:
                rest = b.strip()[len("description:"):].strip()
                if rest:  # scalar on one line (may continue on following more-indented lines)
                    k2 = k + 1
                    while k2 < len(block) and block[k2].strip() and len(block[k2]) - len(block[k2].lstrip()) > indent:
                        k2 += 1
                    cont = [x.strip() for x in block[k + 1:k2]]
                    scalar = " ".join([rest] + cont)
                    if scalar[:1] in "\"'":
                        raise SystemExit("%s: quoted description near %r: edit by hand" % (path, scalar))
                    new = [" " * indent + "description:", " " * (indent + 2) + "- " + scalar,
                           " " * (indent + 2) + "- " + text]
                    block[k:k2] = new
                else:
                    k2 = k + 1
                    while k2 < len(block) and block[k2].strip() and len(block[k2]) - len(block[k2].lstrip()) > indent:
                        k2 += 1
                    block.insert(k2, " " * (indent + 2) + "- " + text)
                break
        else:
            raise SystemExit("%s: no description for the option at line %d" % (path, i + 1))
        out.extend(block)
        i = j
        n += 1
    open(path, "w").write("\n".join(out))
    print("%s: %d templated defaults moved into descriptions" % (path, n))


for p in sys.argv[1:]:
    fix(p)
