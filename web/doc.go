// Package web will hold the dashboard: plain HTML, CSS and JavaScript
// modules embedded in the binary and served by the analytics server.
package web
