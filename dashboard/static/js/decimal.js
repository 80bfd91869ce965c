// Exact decimals for the page's coordinates: a value is `n * 10**e` with `n` a BigInt, so a view
// centre with 5,000 digits is added to and multiplied without losing one. Doubles enter only
// through fromDouble(), which converts a double to the exact decimal it stands for (every double
// is a finite binary fraction, hence a finite decimal). Pure, no DOM.
//
// Only what the page needs: parse, add, subtract, multiply, divide to a chosen digit, round to a
// multiple of 10**k, sign, format. Values are kept normalised (no trailing zeros in `n`), so two
// equal values have equal fields.

/** What parse() reads: a sign, digits with an optional point, an optional exponent. */
const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,7}))?$/;

const BIG_10 = 10n;

/** 10**k as a BigInt (k >= 0). */
function pow10(k) {
  return BIG_10 ** BigInt(k);
}

function abs(n) {
  return n < 0n ? -n : n;
}

export class Decimal {
  /** The value n * 10**e (n a BigInt, e an integer); normalised here. */
  constructor(n, e = 0) {
    if (n === 0n) {
      this.n = 0n;
      this.e = 0;
      return;
    }
    // Strip trailing zeros a few at a time: a value from a long multiplication may carry many.
    while (n % 1000000n === 0n) {
      n /= 1000000n;
      e += 6;
    }
    while (n % BIG_10 === 0n) {
      n /= BIG_10;
      e += 1;
    }
    this.n = n;
    this.e = e;
  }

  /**
   * The exact value of a decimal text: `[+-]digits[.digits][e[+-]digits]`, also `.5`, `5.` and
   * `1E5` (surrounding spaces ignored).
   * @throws {Error} any other text
   */
  static parse(text) {
    const match = DECIMAL_RE.exec(String(text).trim());
    if (!match || !(match[2] || match[3])) throw new Error(`not a decimal number: ${short(text)}`);
    const [, sign, whole, fraction = "", exponent = "0"] = match;
    const n = BigInt(`${whole}${fraction}` || "0");
    return new Decimal(sign === "-" ? -n : n, Number(exponent) - fraction.length);
  }

  /**
   * The exact value of a finite double (its binary fraction m * 2**p written in decimal).
   * @throws {Error} NaN or infinite
   */
  static fromDouble(x) {
    if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
    if (x === 0) return new Decimal(0n);
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    const high = view.getUint32(0);
    const biased = (high >>> 20) & 0x7ff;
    let m = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
    let p = -1074; // subnormal
    if (biased) {
      m |= 1n << 52n;
      p = biased - 1075;
    }
    if (high >>> 31) m = -m;
    // m * 2**p: for p < 0 that is m * 5**-p / 10**-p, exactly.
    return p >= 0 ? new Decimal(m << BigInt(p)) : new Decimal(m * 5n ** BigInt(-p), p);
  }

  isZero() {
    return this.n === 0n;
  }

  /** -1, 0 or 1. */
  sign() {
    return this.n === 0n ? 0 : this.n < 0n ? -1 : 1;
  }

  neg() {
    return new Decimal(-this.n, this.e);
  }

  add(other) {
    if (this.n === 0n) return other;
    if (other.n === 0n) return this;
    const e = Math.min(this.e, other.e);
    return new Decimal(this.n * pow10(this.e - e) + other.n * pow10(other.e - e), e);
  }

  sub(other) {
    return this.add(other.neg());
  }

  mul(other) {
    return new Decimal(this.n * other.n, this.e + other.e);
  }

  /** floor(log10(|value|)): the position of the leading digit (the value must not be 0). */
  lead() {
    return abs(this.n).toString().length - 1 + this.e;
  }

  /** The nearest multiple of 10**k (ties away from zero). */
  roundTo(k) {
    if (this.e >= k) return this;
    const unit = pow10(k - this.e);
    const magnitude = abs(this.n);
    const q = (magnitude + unit / 2n) / unit;
    return new Decimal(this.n < 0n ? -q : q, k);
  }

  /** this / other rounded to the nearest multiple of 10**k (other must not be 0). */
  div(other, k) {
    // this / other = (n1 / n2) * 10**(e1 - e2); scale n1 so the quotient is in units of 10**k.
    const shift = this.e - other.e - k;
    let num = this.n;
    let den = other.n;
    if (shift >= 0) num *= pow10(shift);
    else den *= pow10(-shift);
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const q = (abs(num) * 2n + den) / (2n * den); // rounded half away from zero
    return new Decimal(num < 0n ? -q : q, k);
  }

  /**
   * The shortest exact text: plain (`-0.75`, `0.000123`) while the leading digit sits between
   * 1e-7 and 1e20, else scientific (`1.7e-157`). Both are the dashboard's decimal syntax.
   */
  toString() {
    if (this.n === 0n) return "0";
    const sign = this.n < 0n ? "-" : "";
    const digits = abs(this.n).toString();
    const lead = digits.length - 1 + this.e;
    if (lead < -7 || lead >= 21) {
      const tail = digits.length > 1 ? `.${digits.slice(1)}` : "";
      return `${sign}${digits[0]}${tail}e${lead}`;
    }
    if (this.e >= 0) return `${sign}${digits}${"0".repeat(this.e)}`;
    const point = digits.length + this.e; // digits before the decimal point
    if (point > 0) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
    return `${sign}0.${"0".repeat(-point)}${digits}`;
  }

  /** The value with `significant` digits in scientific form, for reading (`1.8e157`). */
  toPrecision(significant) {
    if (this.n === 0n) return "0";
    const rounded = this.roundTo(this.lead() - significant + 1);
    const digits = abs(rounded.n).toString();
    const lead = digits.length - 1 + rounded.e;
    if (lead >= -3 && lead < significant + 3) return rounded.toString();
    const sign = rounded.n < 0n ? "-" : "";
    const tail = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${tail}e${lead}`;
  }
}

function short(text) {
  const s = String(text);
  return s.length <= 40 ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, 30))}… (${s.length} characters)`;
}
