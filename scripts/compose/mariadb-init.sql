-- Run by the mariadb image on its first start (docker-compose.yml mounts this
-- file into /docker-entrypoint-initdb.d), after it has created MARIADB_USER.
-- The image grants that user only its own database; cdc's binlog listener
-- (go-mysql canal) also needs REPLICATION SLAVE and REPLICATION CLIENT, and
-- the tests create a database per run. scripts/stack grants the same.
-- The user name must equal VC_MYSQL_USER in scripts/stack.env;
-- internal/stack/compose_test.go checks it.
GRANT ALL PRIVILEGES ON *.* TO 'vidcomments'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
