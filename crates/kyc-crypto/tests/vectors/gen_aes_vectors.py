#!/usr/bin/env python3
"""Generates AES test vectors for KYC Desk's JCE-compatible ciphers with an independent
implementation (pyca/cryptography). Run: python3 gen_aes_vectors.py > aes_jce.json

Covers every transformation x key size x key/IV encoding (base64:, hex:, plain text), with
plaintexts shorter than, equal to and longer than one block. Deterministic (fixed seed)."""
import base64
import json
import random

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

rng = random.Random(20261125)
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&*+-=?@^_~"


def secret(n, encoding):
    if encoding == "text":
        s = "".join(rng.choice(PRINTABLE) for _ in range(n))
        return s, s.encode()
    raw = bytes(rng.randrange(256) for _ in range(n))
    if encoding == "base64":
        return "base64:" + base64.b64encode(raw).decode(), raw
    return "hex:" + raw.hex(), raw


def encrypt(spec, key, iv, pt):
    if spec == "AES/GCM/NoPadding":
        return AESGCM(key).encrypt(iv, pt, None)  # ciphertext || 16-byte tag, as JCE
    if spec == "AES/CTR/NoPadding":
        enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
        return enc.update(pt) + enc.finalize()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(pt) + padder.finalize()
    mode = modes.CBC(iv) if spec == "AES/CBC/PKCS5Padding" else modes.ECB()
    enc = Cipher(algorithms.AES(key), mode).encryptor()
    return enc.update(padded) + enc.finalize()


PLAINTEXTS = [
    b'{"result":true}',
    b'{"request_info":{"user_id":"u1"}}',  # exactly 32 bytes? no matter: lengths vary below
    json.dumps({"request_info": {"user_id": "anna.berzina@example.com", "requester_id": "r-1",
                "app_id": "a"}, "kyc_info": {"face_matcher_result": {"score": 4.67}}}).encode(),
    b"0123456789abcdef",  # one full block: PKCS#7 adds a whole block
]

vectors = []
for spec in ["AES/CBC/PKCS5Padding", "AES/GCM/NoPadding", "AES/CTR/NoPadding", "AES/ECB/PKCS5Padding"]:
    for bits in [128, 192, 256]:
        for encoding in ["base64", "hex", "text"]:
            key_text, key = secret(bits // 8, encoding)
            iv_text, iv = (None, None)
            if spec != "AES/ECB/PKCS5Padding":
                iv_len = 12 if spec == "AES/GCM/NoPadding" and encoding != "text" else 16
                iv_text, iv = secret(iv_len, encoding)
            for pt in PLAINTEXTS:
                vectors.append({
                    "cipher_spec": spec,
                    "key": key_text,
                    "iv": iv_text,
                    "plaintext_b64": base64.b64encode(pt).decode(),
                    "ciphertext_b64": base64.b64encode(encrypt(spec, key, iv, pt)).decode(),
                })

print(json.dumps({"generator": "pyca/cryptography", "vectors": vectors}, indent=1))
