CREATE TABLE IF NOT EXISTS toy_clients (
    client_id uuid PRIMARY KEY,
    township_code text NOT NULL
);
