/**
 * TypeScript client for the shopcore HTTP API (see docs/api.md and
 * shopcore/api.py). Amounts travel as decimal strings ("12.50"); this client
 * never converts them to floating point numbers - use `toCents` /
 * `formatMoney` for arithmetic and display.
 */

export type TaxCategory = "standard" | "reduced" | "exempt";
export type OrderStatus = "draft" | "placed" | "paid" | "shipped" | "cancelled";

export interface Product {
  sku: string;
  name: string;
  unit_price: string;
  tax_category: TaxCategory;
}

export interface OrderLine {
  sku: string;
  quantity: number;
  unit_price: string;
  discount_percent: string | null;
}

export interface LineTotals {
  sku: string;
  quantity: number;
  unit_price: string;
  net: string;
  tax_rate: string;
  tax: string;
}

export interface OrderTotals {
  currency: string;
  subtotal: string;
  discount: string;
  net: string;
  tax: string;
  total: string;
  lines: LineTotals[];
}

export interface Order {
  id: number;
  customer_id: number;
  status: OrderStatus;
  region: string;
  coupon: string | null;
  placed_at: string | null;
  lines: OrderLine[];
  totals: OrderTotals;
}

export interface PlaceOrderRequest {
  customer_id: number;
  items: { sku: string; quantity: number }[];
  coupon?: string;
}

export interface SalesSummary {
  from: string;
  to: string;
  orders: number;
  net_revenue: string;
  tax_collected: string;
  discounts_given: string;
  gross_revenue: string;
  average_order_value: string;
  days: { day: string; orders: number; revenue: string }[];
}

/** Raised for every non-2xx response; `status` is the HTTP status code. */
export class ShopApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ShopApiError";
  }

  /** 409: not enough stock, or the order is in the wrong state. */
  get isConflict(): boolean {
    return this.status === 409;
  }
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class ShopClient {
  private readonly baseUrl: string;

  constructor(baseUrl: string, private readonly fetchImpl: FetchLike = fetch) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  listProducts(): Promise<Product[]> {
    return this.request<Product[]>("GET", "/products");
  }

  getOrder(orderId: number): Promise<Order> {
    return this.request<Order>("GET", `/orders/${encodeURIComponent(String(orderId))}`);
  }

  /** Create and place an order in one step (stock is reserved immediately). */
  placeOrder(order: PlaceOrderRequest): Promise<Order> {
    if (order.items.length === 0) {
      return Promise.reject(new ShopApiError(400, "an order needs at least one item"));
    }
    return this.request<Order>("POST", "/orders", order);
  }

  /** Sales between two calendar days (UTC), both included. */
  salesReport(from: string, to: string): Promise<SalesSummary> {
    const query = new URLSearchParams({ from, to });
    return this.request<SalesSummary>("GET", `/reports/sales?${query.toString()}`);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetchImpl(this.baseUrl + path, {
      method,
      headers: body === undefined ? undefined : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = typeof payload?.error === "string" ? payload.error : response.statusText;
      throw new ShopApiError(response.status, message);
    }
    return payload as T;
  }
}

/** "12.50" -> 1250n. Throws on anything that is not a plain decimal amount. */
export function toCents(amount: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!match) {
    throw new RangeError(`not a money amount: ${amount}`);
  }
  const [, sign, whole, fraction = ""] = match;
  const cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0"));
  return sign === "-" ? -cents : cents;
}

/** 123450n -> "1,234.50 EUR" (same format as the CLI). */
export function formatMoney(amount: string | bigint, currency = "EUR"): string {
  const cents = typeof amount === "bigint" ? amount : toCents(amount);
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${whole}.${fraction} ${currency}`;
}

/** Sum of the order's line totals (net + VAT) in cents; equals totals.total. */
export function orderTotalCents(order: Order): bigint {
  return order.totals.lines.reduce(
    (sum, line) => sum + toCents(line.net) + toCents(line.tax),
    0n,
  );
}
