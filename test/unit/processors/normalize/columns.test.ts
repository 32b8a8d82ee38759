import { Columns } from '../../../../processors/normalize/values';

// Columns caches its header index per distinct header list; these rows share, reorder and change
// header lists so that a stale or wrongly shared index would return another row's cell.
const lower = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');

describe('Columns header plans', () => {
  it('reads each row through its own header list, whatever rows came before', () => {
    const a = new Columns({ Cost: '1', Region: 'eu' }, lower);
    const b = new Columns({ Region: 'us', Cost: '2' }, lower);
    const c = new Columns({ Cost: '3' }, lower);
    const a2 = new Columns({ Cost: '4', Region: 'ap' }, lower);
    expect([a.str('cost'), a.str('region')]).toEqual(['1', 'eu']);
    expect([b.str('cost'), b.str('region')]).toEqual(['2', 'us']);
    expect([c.str('cost'), c.str('region'), c.has('region')]).toEqual(['3', null, false]);
    expect([a2.str('cost'), a2.str('region')]).toEqual(['4', 'ap']);
  });

  it('keeps first-header-wins per row when two headers normalize to one name', () => {
    const slashFirst = new Columns({ 'line/Cost': '1', line_cost: '2' }, lower);
    const snakeFirst = new Columns({ line_cost: '3', 'line/Cost': '4' }, lower);
    expect(slashFirst.cell('linecost')).toEqual({ key: 'line/Cost', value: '1' });
    expect(snakeFirst.cell('linecost')).toEqual({ key: 'line_cost', value: '3' });
  });

  it('stays correct when more header lists interleave than it keeps plans for', () => {
    const lists = Array.from({ length: 20 }, (_, i) => [`h${i}`, 'shared']);
    for (let round = 0; round < 3; round++) {
      for (const [i, [own, shared]] of lists.entries()) {
        const cols = new Columns({ [own]: `v${i}`, [shared]: `s${i}.${round}` }, lower);
        expect(cols.str(`h${i}`)).toBe(`v${i}`);
        expect(cols.str('shared')).toBe(`s${i}.${round}`);
        expect(cols.has(`h${(i + 1) % 20}`)).toBe(false);
      }
    }
  });

  it('derives a header-list value once per header list, not once per row', () => {
    let computed = 0;
    const derive = (cols: Columns) =>
      cols.derive('test.count', (headers) => {
        computed++;
        return headers.length;
      });
    expect(derive(new Columns({ x1: 'a', y1: 'b' }, lower))).toBe(2);
    expect(derive(new Columns({ x1: 'c', y1: 'd' }, lower))).toBe(2);
    expect(derive(new Columns({ x1: 'e' }, lower))).toBe(1);
    expect(computed).toBe(2);
  });
});
