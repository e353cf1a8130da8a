drop table if exists {{ staging }};
