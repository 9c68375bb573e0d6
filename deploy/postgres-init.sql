-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- One database per service: services share no tables (docs/ARCHITECTURE.md).
-- Each service's migrations create its tables on start (python -m common.run <service>).
CREATE DATABASE intake;
CREATE DATABASE media;
CREATE DATABASE review;
CREATE DATABASE notify;
