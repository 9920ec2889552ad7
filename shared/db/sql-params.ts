/**
 * The parameters of one SQL statement as it is built: `add` appends a value and returns its
 * placeholder (`$1`, `$2`, …), so fragments written by different functions never have to agree
 * on parameter numbers by arithmetic.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Appends `value`; returns its placeholder, with `::cast` when given. */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast === undefined ? `$${this.values.length}` : `$${this.values.length}::${cast}`;
  }
}
