// The TypeScript map layouts against the compiled object's BTF and the C header's enums: a field
// added on one side only fails here, not as corrupt map entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/bpf.js';
import { DATAPATH_OBJECT } from '../../src/dataplane/loader.js';
import { STAT_REASONS, STRUCTS, svcValV4, type Scalar } from '../../src/dataplane/layout.js';

const btf = execFileSync('bpftool', ['btf', 'dump', 'file', DATAPATH_OBJECT, 'format', 'raw'], { encoding: 'utf8' });

/** The C type each scalar kind is declared with: byte order shows in the typedef's name. */
const C_TYPE: Record<Scalar, string> = { u8: '__u8', u16: '__u16', u32: '__u32', u64: '__u64', be16: '__be16', be32: '__be32', ipv4: '__be32' };

/** Types of the BTF dump by id: kind, name, size (resolved through typedefs) and struct members. */
function btfTypes(dump: string) {
  const types = new Map<number, { kind: string; name: string; size?: number; ref?: number; members: { name: string; type: number; bitsOffset: number }[] }>();
  let current: ReturnType<typeof types.get>;
  for (const line of dump.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (head) {
      const rest = head[4] ?? '';
      const size = /size=(\d+)/.exec(rest)?.[1];
      const ref = /type_id=(\d+)/.exec(rest)?.[1];
      current = { kind: head[2] ?? '', name: head[3] ?? '', ...(size ? { size: Number(size) } : {}), ...(ref ? { ref: Number(ref) } : {}), members: [] };
      types.set(Number(head[1]), current);
      continue;
    }
    const member = /^\s+'(\w+)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (member && current) current.members.push({ name: member[1] ?? '', type: Number(member[2]), bitsOffset: Number(member[3]) });
  }
  const sizeOf = (id: number): number | undefined => {
    const t = types.get(id);
    return t?.size ?? (t?.ref === undefined ? undefined : sizeOf(t.ref));
  };
  return {
    structs: new Map([...types.values()].filter((t) => t.kind === 'STRUCT').map((t) => [t.name, t])),
    sizeOf,
    nameOf: (id: number) => types.get(id)?.name,
  };
}

test('struct sizes match the BTF of the datapath object', () => {
  for (const { name, size } of STRUCTS) {
    const m = btf.match(new RegExp(`STRUCT '${name}' size=(\\d+)`));
    assert.ok(m, `struct ${name} is in the object's BTF`);
    assert.equal(Number(m[1]), size, `sizeof(struct ${name})`);
  }
});

test('every member of every struct sits at the same offset with the same size and byte order on both sides', () => {
  const { structs, sizeOf, nameOf } = btfTypes(btf);
  for (const layout of STRUCTS) {
    const c = structs.get(layout.name);
    assert.ok(c, `struct ${layout.name} is in the object's BTF`);
    // Explicit padding is C's business; every other member must be declared in TypeScript.
    const cMembers = c.members.filter((m) => m.name !== 'pad');
    assert.deepEqual(
      layout.members.map((m) => m.cName),
      cMembers.map((m) => m.name),
      `members of struct ${layout.name}`,
    );
    for (const [i, m] of layout.members.entries()) {
      const cm = cMembers[i];
      assert.ok(cm);
      assert.equal(m.offset, cm.bitsOffset / 8, `offsetof(struct ${layout.name}, ${cm.name})`);
      assert.equal(m.size, sizeOf(cm.type), `sizeof(((struct ${layout.name} *)0)->${cm.name})`);
      assert.equal(C_TYPE[m.type], nameOf(cm.type), `type of struct ${layout.name}.${cm.name}`);
    }
  }
});

test('stat reasons follow enum stat_reason in order', () => {
  const header = readFileSync(path.join(repoRoot, 'bpf', 'include', 'types.h'), 'utf8');
  const body = header.slice(header.indexOf('enum stat_reason {'), header.indexOf('STAT__MAX'));
  const names = [...body.matchAll(/^\s*STAT_([A-Z_]+)/gm)].map((m) => (m[1] ?? '').toLowerCase());
  assert.deepEqual(names, [...STAT_REASONS]);
});

test('service values round-trip', () => {
  const v = { svcId: 7, revnatId: 9, lbSize: 509, backendCount: 3, flags: 1, affinityTimeout: 10800 };
  assert.deepEqual(svcValV4.decode(svcValV4.encode(v)), v);
});
