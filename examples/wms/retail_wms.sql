-- Warehouse (WMS, PostgreSQL): the stock table the wms-stock connector polls, with a few rows.
-- Load with: psql -U postgres -h 127.0.0.1 -f examples/wms/retail_wms.sql
SELECT 'CREATE DATABASE retail_wms ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'retail_wms')\gexec
\connect retail_wms

CREATE TABLE IF NOT EXISTS stock (
  id            BIGSERIAL PRIMARY KEY,
  warehouse     VARCHAR(10)   NOT NULL,              -- unified code: DC-SH01
  bin           VARCHAR(20)   NOT NULL,              -- storage bin
  sku           VARCHAR(20)   NOT NULL,
  barcode       VARCHAR(14),
  item_name     VARCHAR(100)  NOT NULL,
  uom           VARCHAR(6)    NOT NULL DEFAULT 'EA',
  qty_on_hand   NUMERIC(14,3) NOT NULL,
  qty_allocated NUMERIC(14,3) NOT NULL DEFAULT 0,    -- reserved for picking
  changed_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
  UNIQUE (warehouse, bin, sku)
);
CREATE INDEX IF NOT EXISTS stock_changed ON stock (changed_at, id);

INSERT INTO stock (warehouse, bin, sku, barcode, item_name, uom, qty_on_hand, qty_allocated, changed_at) VALUES
  ('DC-SH01', 'A-01-03-2', '10023460', '6951234007775', '农夫山泉 饮用天然水 550ml×24瓶', 'CS', 1280.000, 150.000, '2024-03-01 06:00:12+08'),
  ('DC-SH01', 'A-02-11-1', '10050012', '6936547000422', '伊利纯牛奶 250ml×24盒', 'CS', 640.000, 28.000, '2024-03-01 06:00:12+08'),
  ('DC-SH01', 'C-07-01-4', '10060021', '6902888001015', '飞利浦 声波电动牙刷 HX6730', 'EA', 96.000, 0.000, '2024-03-01 14:32:50+08')
ON CONFLICT (warehouse, bin, sku) DO NOTHING;
