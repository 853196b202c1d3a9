# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A STUB, not Elasticsearch: an HTTPS server that answers the two index-template calls the elasticsearch role
makes (GET and PUT /_index_template/<name>) the way Elasticsearch documents them (GET: {"index_templates":
[{"name", "index_template"}]} with settings nested under "index" and string values; 404 when absent), with
basic auth and a certificate from its own CA. It proves the role's TLS/auth plumbing and its GET-compare-PUT
idempotence, nothing about Elasticsearch itself.

    es_stub.py <dir> <port> <user> <password> <lifetime seconds>

Writes <dir>/ca.crt; records every request; test hooks: GET /_stub/requests, POST /_stub/mutate/<name>
(changes the stored template's vector dims), POST /_stub/shutdown.
"""
import base64
import datetime
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certs(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'es-stub-ca')])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost')]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, 'server.pem'), 'wb') as f:
        f.write(cert.public_bytes(pem))
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    tmp = os.path.join(directory, 'ca.crt.tmp')
    with open(tmp, 'wb') as f:
        f.write(ca.public_bytes(pem))
    os.rename(tmp, os.path.join(directory, 'ca.crt'))


def stored(body):
    """What Elasticsearch returns for a stored template: settings nested under index, values as strings."""
    out = json.loads(json.dumps(body))
    settings = (out.get('template') or {}).pop('settings', None)
    if settings is not None:
        out['template']['settings'] = {'index': dict((k, str(v).lower() if isinstance(v, bool) else str(v))
                                                     for k, v in settings.items())}
    out.setdefault('composed_of', [])
    return out


def main():
    directory, port, user, password, lifetime = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    make_certs(directory)
    templates, requests = {}, []
    expected = 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, payload):
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get('Content-Length') or 0)
            return json.loads(self.rfile.read(length) or b'null')

        def handle_any(self, method):
            if self.path.startswith('/_stub/'):
                return self.stub(method)
            body = self.body() if method == 'PUT' else None
            requests.append({'method': method, 'path': self.path,
                             'auth_ok': self.headers.get('Authorization') == expected, 'body': body})
            if self.headers.get('Authorization') != expected:
                return self.reply(401, {'error': 'security_exception', 'status': 401})
            parts = self.path.strip('/').split('/')
            if len(parts) != 2 or parts[0] != '_index_template':
                return self.reply(400, {'error': 'the stub only knows /_index_template/<name>'})
            name = parts[1]
            if method == 'GET':
                if name not in templates:
                    return self.reply(404, {'error': 'resource_not_found_exception', 'status': 404})
                return self.reply(200, {'index_templates': [{'name': name, 'index_template': templates[name]}]})
            templates[name] = stored(body)
            return self.reply(200, {'acknowledged': True})

        def stub(self, method):
            if self.path == '/_stub/requests':
                return self.reply(200, requests)
            if self.path.startswith('/_stub/mutate/'):
                tpl = templates[self.path.rsplit('/', 1)[1]]
                for field in tpl['template']['mappings']['properties'].values():
                    if field.get('type') == 'dense_vector':
                        field['dims'] = 768
                return self.reply(200, {'mutated': True})
            if self.path == '/_stub/shutdown':
                self.reply(200, {'bye': True})
                threading.Thread(target=server.shutdown).start()
                return None
            return self.reply(404, {})

        def do_GET(self):
            self.handle_any('GET')

        def do_PUT(self):
            self.handle_any('PUT')

        def do_POST(self):
            self.handle_any('POST')

    server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(directory, 'server.pem'))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Timer(lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == '__main__':
    main()
