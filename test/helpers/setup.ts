// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
