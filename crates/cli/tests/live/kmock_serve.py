#!/usr/bin/env python3
"""Serves Kubernetes manifests through kmock, the Kubernetes emulator on PyPI, so that
kubeseg's tests can read them back through a client that was not written here.

Usage: kmock_serve.py PORT_FILE MANIFEST...

Writes the port it listens on to PORT_FILE once it serves, then runs until killed.
Built-in kinds use kmock's bundled discovery (a real K3s cluster's); the custom
resources the manifests hold (Istio's, say) get a discovery document of their own.
"""
import asyncio
import json
import os
import sys

import kmock
import yaml
from kmock._internal import parsing

_parse_path = parsing.parse_path


def parse_path(path):
    # kmock 0.8 reads /api/v1/namespaces as a namespace segment without a name and
    # answers 500; the real server lists namespaces there.
    parts = path.split('?')[0].strip('/').split('/')
    if parts[:3] == ['api', 'v1', 'namespaces'] and len(parts) in (3, 4):
        name = parts[3] if len(parts) == 4 else None
        return parsing.ParsedPath('', 'v1', 'namespaces', None, name, None)
    return _parse_path(path)


parsing.parse_path = parse_path

# Custom resources kubeseg's tests serve: (group/version, kind) -> (plural, namespaced).
CUSTOM = {
    ('security.istio.io/v1', 'AuthorizationPolicy'): ('authorizationpolicies', True),
    ('security.istio.io/v1', 'PeerAuthentication'): ('peerauthentications', True),
}
VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']


def plural_of(kind):
    lower = kind.lower()
    if lower.endswith('y'):
        return lower[:-1] + 'ies'
    return lower + ('es' if lower.endswith('s') else 's')


def main():
    port_file, paths = sys.argv[1], sys.argv[2:]
    docs = []
    for path in paths:
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(path, f) for f in os.listdir(path) if f.endswith(('.yaml', '.yml')))
        for f in files:
            with open(f, encoding='utf-8') as text:
                docs.extend(d for d in yaml.safe_load_all(text) if d)
    asyncio.run(serve(port_file, docs))


async def serve(port_file, docs):
    emulator = kmock.KubernetesEmulator()
    emulator.resources.load_bundled()
    groups = {}
    for (gv, kind), (plural, namespaced) in CUSTOM.items():
        groups.setdefault(gv, []).append({
            'name': plural, 'singularName': kind.lower(), 'namespaced': namespaced,
            'kind': kind, 'verbs': VERBS})
    for gv, resources in groups.items():
        emulator.resources.load_data(
            json.dumps([{'kind': 'APIResourceList', 'apiVersion': 'v1',
                                       'groupVersion': gv, 'resources': resources}]))
    plurals = {}
    for (gv, kind), (plural, namespaced) in CUSTOM.items():
        plurals[gv, kind] = plural
    async with emulator, kmock.Server(emulator) as server:
        for doc in docs:
            gv, kind = doc['apiVersion'], doc['kind']
            plural = plurals.get((gv, kind)) or plural_of(kind)
            meta = doc.get('metadata', {})
            namespace = meta.get('namespace')
            if namespace is None and kind not in ('Namespace', 'Node'):
                namespace = 'default'
                meta['namespace'] = namespace
            if kind in ('Namespace', 'Node'):
                namespace = None
            emulator.objects[f'{gv}/{plural}', namespace, meta['name']] = doc
        with open(port_file + '.tmp', 'w', encoding='utf-8') as f:
            f.write(str(server.port))
        os.rename(port_file + '.tmp', port_file)
        await asyncio.Event().wait()


if __name__ == '__main__':
    main()
