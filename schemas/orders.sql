-- orders: the table samples/orders-de.csv and samples/orders-us.csv load
-- into (samples/orders-de.conf, samples/orders-us.conf).
CREATE TABLE IF NOT EXISTS public.orders (
  id integer PRIMARY KEY,
  customer text NOT NULL,
  ordered_at timestamp NOT NULL,
  amount numeric(12,2) NOT NULL CHECK (amount >= 0),
  quantity integer NOT NULL,
  paid boolean NOT NULL
);
