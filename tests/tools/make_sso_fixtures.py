#!/usr/bin/env python3
"""Writes sql/sso_fixtures.psql: the keys, JWK Sets and pre-signed tokens the
pg_regress test sql/sso.sql uses. Keys are made and tokens signed with the
openssl command line, once, when the test is written; the private keys are
thrown away, so the fixtures hold public JWKS, one throwaway HMAC secret and
tokens only. Valid tokens expire in 2100; the time tests use times far in
the past or future, so the expected output does not depend on the day it
runs.

    python3 tests/tools/make_sso_fixtures.py > sql/sso_fixtures.psql
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile

FAR_FUTURE = 4102444800  # 2100-01-01
ISSUED = 1700000000      # 2023-11-14
LEARNHUB = "https://login.learnhub.example"
PARTNER = "https://login.partner.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def der_ints(der: bytes):
    """The two INTEGERs of a DER ECDSA-Sig-Value."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = []
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out.append(int.from_bytes(der[i + 2:i + 2 + n], "big"))
        i += 2 + n
    return out


class Key:
    count = 0

    def __init__(self, kind, folder):
        self.kind = kind
        Key.count += 1
        self.pem = os.path.join(folder, f"{kind}-{Key.count}.pem")
        if kind == "RSA":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.pem)
        elif kind == "P-256":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.pem)
        else:
            openssl("genpkey", "-algorithm", "ED25519", "-out", self.pem)
        self.public_pem = openssl("pkey", "-in", self.pem, "-pubout")

    def jwk(self, kid, alg=None):
        der = openssl("pkey", "-in", self.pem, "-pubout", "-outform", "DER")
        if self.kind == "RSA":
            text = openssl("rsa", "-in", self.pem, "-noout", "-modulus").decode()
            n = bytes.fromhex(text.strip().split("=")[1])
            jwk = {"kty": "RSA", "n": b64(n), "e": "AQAB"}
        elif self.kind == "P-256":
            point = der[-65:]
            assert point[0] == 4
            jwk = {"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}
        else:
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(der[-32:])}
        jwk["kid"] = kid
        if alg:
            jwk["alg"] = alg
        return jwk

    def sign(self, data: bytes) -> bytes:
        if self.kind == "RSA":
            return openssl("dgst", "-sha256", "-sign", self.pem, data=data)
        if self.kind == "P-256":
            r, s = der_ints(openssl("dgst", "-sha256", "-sign", self.pem, data=data))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return openssl("pkeyutl", "-sign", "-rawin", "-inkey", self.pem, "-in", f.name)


def token(header, claims, key=None, secret=None, raw_header=None, raw_claims=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    c = raw_claims if raw_claims is not None else json.dumps(claims, separators=(",", ":"))
    signing_input = (b64(h.encode()) + "." + b64(c.encode())).encode()
    if secret is not None:
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    else:
        sig = key.sign(signing_input)
    return signing_input.decode() + "." + b64(sig)


def claims(sub, **extra):
    out = {"iss": LEARNHUB, "sub": sub, "aud": ["skillpath-db"], "iat": ISSUED, "exp": FAR_FUTURE}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def main():
    with tempfile.TemporaryDirectory() as folder:
        rsa, ec, ed = Key("RSA", folder), Key("P-256", folder), Key("Ed25519", folder)
        rotated = Key("RSA", folder)
        stranger = Key("RSA", folder)
        secret = os.urandom(32)

        learnhub_jwks = {"keys": [rsa.jwk("lh-rsa", "RS256"), ec.jwk("lh-ec"), ed.jwk("lh-ed")]}
        rotated_jwks = {"keys": learnhub_jwks["keys"] + [rotated.jwk("lh-rsa-2", "RS256")]}
        partner_jwks = {"keys": [{"kty": "oct", "kid": "pt-hs", "alg": "HS256", "k": b64(secret)}]}

        rs = lambda sub, **kw: token({"alg": "RS256", "kid": "lh-rsa", "typ": "JWT"}, claims(sub, **kw), rsa)
        out = {
            "learnhub_jwks": json.dumps(learnhub_jwks),
            "rotated_jwks": json.dumps(rotated_jwks),
            "partner_jwks": json.dumps(partner_jwks),
            # Valid tokens, one per algorithm and person.
            "ada_rs256": rs("42"),
            "bob_es256": token({"alg": "ES256", "kid": "lh-ec"}, claims("43"), ec),
            "cy_eddsa": token({"alg": "EdDSA", "kid": "lh-ed"}, claims("44"), ed),
            "dee_partner_hs256": token({"alg": "HS256", "kid": "pt-hs"},
                                       {"iss": PARTNER, "sub": "p-7", "exp": FAR_FUTURE}, secret=secret),
            "new_person": rs("1001"),
            "no_sub": rs(None),
            "rotated_key": token({"alg": "RS256", "kid": "lh-rsa-2"}, claims("42"), rotated),
            # Times.
            "expired": rs("42", exp=1000000000),
            "not_yet_valid": rs("42", nbf=4000000000),
            "issued_in_future": rs("42", iat=4000000000),
            "no_exp": rs("42", exp=None),
            # Claims that do not fit the platform.
            "wrong_audience": rs("42", aud="another-db"),
            "unknown_issuer": token({"alg": "RS256"}, {**claims("42"), "iss": "https://evil.example"}, stranger),
            "stranger_signed": token({"alg": "RS256", "kid": "lh-rsa"}, claims("42"), stranger),
            # Hostile tokens.
            "alg_none": b64(b'{"alg":"none"}') + "." + b64(json.dumps(claims("42")).encode()) + ".",
            "hs256_with_rsa_public_key": token({"alg": "HS256", "kid": "lh-rsa"}, claims("42"), secret=rsa.public_pem),
            "key_alg_mismatch": token({"alg": "PS256", "kid": "lh-rsa"}, claims("42"), rsa),
            "unknown_kid": token({"alg": "RS256", "kid": "no-such-key"}, claims("42"), rsa),
            "duplicate_header": token(None, claims("42"), rsa, raw_header='{"alg":"RS256","kid":"lh-rsa","alg":"none"}'),
            "non_json_header": b64(b"alg=RS256") + "." + b64(json.dumps(claims("42")).encode()) + ".c2ln",
            "header_bomb": token(None, claims("42"), rsa,
                                 raw_header='{"alg":"RS256","x":' + "[" * 500 + "]" * 500 + "}"),
            "claims_bomb": token({"alg": "RS256", "kid": "lh-rsa"}, None, rsa,
                                 raw_claims='{"iss":"' + LEARNHUB + '","x":' + "[" * 500 + "]" * 500 + "}"),
            "huge_kid": token({"alg": "RS256", "kid": "k" * 1000}, claims("42"), rsa),
            "crit": token({"alg": "RS256", "kid": "lh-rsa", "crit": ["exp"], "exp": 1}, claims("42"), rsa),
            "wrong_key_type": token({"alg": "ES256", "kid": "lh-ed"}, claims("42"), ec),
        }
        good = out["ada_rs256"]
        h, p, s = good.split(".")
        out["padded"] = h + "==." + p + "." + s
        out["bad_alphabet"] = h + "." + p + "." + s[:10] + "+" + s[11:]
        out["truncated"] = h + "." + p
        out["tampered"] = h + "." + b64(json.dumps(claims("43"), separators=(",", ":")).encode()) + "." + s
        out["oversized"] = token({"alg": "RS256", "kid": "lh-rsa"}, claims("42", pad="p" * 17000), rsa)

    print("-- Generated by tests/tools/make_sso_fixtures.py: public keys and pre-signed tokens")
    print("-- for sql/sso.sql. Regenerate rather than edit.")
    for name, value in out.items():
        assert "'" not in value
        print(f"\\set {name} '{value}'")


if __name__ == "__main__":
    main()
