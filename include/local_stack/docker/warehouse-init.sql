-- Run once by the postgres image's entrypoint (docker-entrypoint-initdb.d) when the warehouse volume is empty,
-- as POSTGRES_USER (airlake) connected to POSTGRES_DB (warehouse, created by the image itself).
-- Adds the shop's operational database, the stand-in source behind AIRFLOW_CONN_SHOP_DB.
-- To rerun it, drop the volume: docker compose down --volumes.
CREATE DATABASE shop OWNER airlake;
