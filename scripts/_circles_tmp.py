"""Count import circles (strongly connected components of more than one module) with grimp + networkx."""

import sys

import grimp
import networkx as nx

pkg = sys.argv[1] if len(sys.argv) > 1 else "adapterhub"
g = grimp.build_graph(pkg, include_external_packages=False)
d = nx.DiGraph()
for m in g.modules:
    for imp in g.find_modules_directly_imported_by(m):
        d.add_edge(m, imp)
# a module imports its package's __init__ implicitly; grimp records explicit imports only
sccs = [c for c in nx.strongly_connected_components(d) if len(c) > 1]
print(len(sccs), "circles;", [len(c) for c in sccs])
for c in sccs:
    print(sorted(c))
