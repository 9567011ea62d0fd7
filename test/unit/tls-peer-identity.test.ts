import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { certificateIdentityNames, splitAltNames } from '../../src/protocols/tls/peer-identity.js';

const cert = (subjectaltname: string | undefined, CN?: string | string[]): Pick<PeerCertificate, 'subject' | 'subjectaltname'> =>
  ({ subject: CN === undefined ? {} : { CN }, ...(subjectaltname !== undefined && { subjectaltname }) }) as Pick<PeerCertificate, 'subject' | 'subjectaltname'>;

describe('peer identity names', () => {
  it('URI SANs first, in order, then the CN', () => {
    assert.deepEqual(
      certificateIdentityNames(cert('DNS:tie.empire.local, URI:spiffe://empire.local/tiefighter, IP Address:127.0.0.2, URI:urn:x:y', 'tiefighter')),
      ['spiffe://empire.local/tiefighter', 'urn:x:y', 'tiefighter'],
    );
  });

  it('only the CN when there are no URI SANs; nothing when there is neither', () => {
    assert.deepEqual(certificateIdentityNames(cert('DNS:a.example', 'client-a')), ['client-a']);
    assert.deepEqual(certificateIdentityNames(cert(undefined, 'client-a')), ['client-a']);
    assert.deepEqual(certificateIdentityNames(cert('DNS:a.example')), []);
  });

  it('a CN equal to a URI SAN is listed once', () => {
    assert.deepEqual(certificateIdentityNames(cert('URI:spiffe://e/x', 'spiffe://e/x')), ['spiffe://e/x']);
  });

  it('repeated CNs are ambiguous and ignored', () => {
    assert.deepEqual(certificateIdentityNames(cert('URI:spiffe://e/x', ['a', 'b'])), ['spiffe://e/x']);
  });

  it("Node's quoted SAN values keep their commas and cannot inject names", () => {
    // A URI whose value contains ", URI:spiffe://evil" must stay one value, not become a second identity.
    const sans = 'URI:"spiffe://e/x, URI:spiffe://evil", DNS:ok.example';
    assert.deepEqual(splitAltNames(sans), ['URI:spiffe://e/x, URI:spiffe://evil', 'DNS:ok.example']);
    assert.deepEqual(certificateIdentityNames(cert(sans)), ['spiffe://e/x, URI:spiffe://evil']);
    assert.deepEqual(splitAltNames('DNS:"a\\u0022b"'), ['DNS:a"b']);
  });

  it('a SAN string Node would not produce yields no names', () => {
    assert.equal(splitAltNames('URI:"unterminated'), undefined);
    assert.deepEqual(certificateIdentityNames(cert('URI:"unterminated', 'cn')), ['cn']);
  });
});
