// node-compat.js - preloaded (node -r) into the article's Node.js services
// by bench/run, so that their code runs unchanged with a driver that
// FerretDB understands.
//
// The article pins the mongodb driver 2.x (and mongoose 4.x, which uses
// it). Those send every command as OP_QUERY, which FerretDB 1.24 answers
// with "Unsupported OP_QUERY command"; the driver speaks OP_MSG from 3.5
// on. From 3.0 on, though, MongoClient.connect() hands its callback a
// client where 2.x handed a Db: this hands it the client's Db again.
// Nothing else is changed.
'use strict';

const path = require('path');
const mongodb = require(require.resolve('mongodb',
    { paths: [process.cwd(), path.dirname(require.main ? require.main.filename : '.')] }));
const connect = mongodb.MongoClient.connect;

mongodb.MongoClient.connect = function (url, options, callback) {
    if (typeof options === 'function') {
        callback = options;
        options = null;
    }
    if (typeof callback !== 'function')
        return connect.call(this, url, options || {});
    return connect.call(this, url, options || {}, function (err, client) {
        const asDb = client && typeof client.collection !== 'function' &&
            typeof client.db === 'function' ? client.db() : client;
        callback(err, asDb);
    });
};
