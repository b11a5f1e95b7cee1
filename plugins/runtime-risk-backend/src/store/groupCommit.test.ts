import { GroupCommitter } from './groupCommit';

describe('GroupCommitter', () => {
  it('writes concurrent submissions in few batches, in order, and resolves each once written', async () => {
    const batches: number[][] = [];
    const committer = new GroupCommitter<number>(async items => {
      await new Promise(resolve => setTimeout(resolve, 5));
      batches.push(items);
    }, 40);
    const done: number[] = [];
    await Promise.all(Array.from({ length: 100 }, (_, i) => committer.submit(i).then(() => done.push(i))));
    expect(batches.flat()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // the first submission goes alone; the rest queue behind it and go in batches of at most 40
    expect(batches[0]).toEqual([0]);
    expect(batches.length).toBeLessThanOrEqual(4);
    expect(Math.max(...batches.map(b => b.length))).toBe(40);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('a lone submission is written at once, in its own batch', async () => {
    const batches: string[][] = [];
    const committer = new GroupCommitter<string>(async items => {
      batches.push(items);
    });
    await committer.submit('a');
    await committer.submit('b');
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('retries a failed batch item by item: only the item that cannot be written fails', async () => {
    const written: string[] = [];
    const committer = new GroupCommitter<string>(async items => {
      await new Promise(resolve => setTimeout(resolve, 1));
      if (items.includes('poison')) throw new Error('constraint violated');
      written.push(...items);
    });
    const results = await Promise.allSettled(['a', 'b', 'poison', 'c', 'd'].map(x => committer.submit(x)));
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason.message).toBe('constraint violated');
    expect(written.sort()).toEqual(['a', 'b', 'c', 'd']);
    // and it keeps working afterwards
    await committer.submit('e');
    expect(written).toContain('e');
  });
});
