"""Assembles docs/benchmarks.md from the per-area fragments in docs/bench/.

Usage (from anywhere): python3 docs/bench/merge.py

Keeps the head of docs/benchmarks.md (up to its Summary), then writes the
summary table from docs/bench/summary.md and every area's fragment in the
order below, with headings demoted one level and relative links rewritten.
"""
import re, os
root=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
order=['coalesce','hashring','segment','wal','kv','cassandra','timeseries','ktls','edge']
titles={'coalesce':'coalesce','hashring':'hashring','segment':'segment','wal':'wal','kv':'kv, kv/local','cassandra':'kv/cassandra','timeseries':'timeseries','ktls':'ktls and numa','edge':'The edge against nginx, Varnish and Traffic Server'}
head=open(f'{root}/docs/benchmarks.md').read().split('\n## Summary')[0].split('\n<a id=')[0].rstrip()+'\n'
out=[head]
summary=open(f'{root}/docs/bench/summary.md').read()
if summary: out.append('\n## Summary\n\n'+summary.strip()+'\n')
for name in order:
    p=f'{root}/docs/bench/{name}.md'
    if not os.path.exists(p): continue
    txt=open(p).read()
    lines=txt.split('\n')
    # drop the fragment's own H1, demote the rest by one level
    body=[]
    infence=False
    for i,l in enumerate(lines):
        if l.strip().startswith('```'): infence=not infence
        if not infence and re.match(r'^#+ ', l):
            if i==0 and l.startswith('# '): continue
            l='#'+l
        body.append(l)
    import posixpath
    def fix(m):
        target=m.group(1)
        if re.match(r'^[a-z]+:', target) or target.startswith('#'):
            return m.group(0)
        return '](' + posixpath.normpath(posixpath.join('bench', target)) + ('/' if target.endswith('/') else '') + ')'
    body=[re.sub(r'\]\(([^)]+)\)', fix, l) for l in body]
    out.append(f'\n<a id="{name}"></a>\n\n## {titles[name]}\n\n'+'\n'.join(body).strip()+'\n')
open(f'{root}/docs/benchmarks.md','w').write('\n'.join(out))
print('written', sum(len(x) for x in out))
