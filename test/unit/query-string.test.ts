import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeComponent, parseQuery, parseRequestTarget } from '../../src/protocol/query-string';

describe('strict query parsing', () => {
  it('decodes escapes, + and UTF-8', () => {
    assert.equal(decodeComponent('a%2Cb+c'), 'a,b c');
    assert.equal(decodeComponent('%C3%A9'), 'é');
    assert.equal(decodeComponent('plain'), 'plain');
  });

  it('refuses bad escapes and bytes that are not UTF-8', () => {
    for (const bad of ['%zz', 'x%', 'x%4', '%C3', '%FF', '%ED%A0%80']) assert.equal(decodeComponent(bad), undefined, bad);
  });

  it('fails the whole query on one bad parameter and on a repeated single-valued one', () => {
    assert.equal(parseQuery('topics=x,y%zz').ok, false);
    assert.equal(parseQuery('a=1&b=%zz').ok, false);
    const twice = parseQuery('topics=a&topics=b', ['topics']);
    assert.ok(!twice.ok && /more than once/.test(twice.reason));
    const ok = parseQuery('topics=a,b&&since=&x', ['topics']);
    assert.ok(ok.ok);
    assert.deepEqual([...ok.params], [['topics', 'a,b'], ['since', ''], ['x', '']]);
  });

  it('splits origin and absolute targets and never throws', () => {
    assert.deepEqual(parseRequestTarget('/publish?topic=a'), { ok: true, path: '/publish', params: new Map([['topic', 'a']]) });
    const abs = parseRequestTarget('http://host:1/health?x=1#frag');
    assert.ok(abs.ok && abs.path === '/health' && abs.params.get('x') === '1');
    for (const target of ['//%zz/', 'http://:80/', '//a:99999/health', '//[', 'http://[/', '*', '', 'ftp://x/', '/%', '/a?b=%G0']) {
      assert.doesNotThrow(() => parseRequestTarget(target), target);
    }
    assert.equal(parseRequestTarget('//%zz/').ok, false);
    assert.equal(parseRequestTarget('*').ok, false);
    assert.equal(parseRequestTarget('/%').ok, false);
  });
});
