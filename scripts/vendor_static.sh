#!/usr/bin/env bash
# Copy the pinned front-end libraries from node_modules into static/vendor/.
# Run after changing package.json; the copied files are committed so that a
# fresh machine needs no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
v=static/vendor
rm -rf "$v" && mkdir -p "$v"/{bootstrap,bootstrap-icons,chart.js,cytoscape,dejavu-fonts,idb,leaflet,sortablejs}
cp node_modules/bootstrap/dist/css/bootstrap.min.css{,.map} "$v/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js{,.map} "$v/bootstrap/"
cp node_modules/bootstrap/LICENSE "$v/bootstrap/"
cp node_modules/bootstrap-icons/font/bootstrap-icons.min.css "$v/bootstrap-icons/"
cp -r node_modules/bootstrap-icons/font/fonts "$v/bootstrap-icons/"
cp node_modules/bootstrap-icons/LICENSE "$v/bootstrap-icons/"
cp node_modules/chart.js/dist/chart.umd.min.js{,.map} "$v/chart.js/"
cp node_modules/chart.js/LICENSE.md "$v/chart.js/"
cp node_modules/cytoscape/dist/cytoscape.min.js "$v/cytoscape/"
cp node_modules/cytoscape/LICENSE "$v/cytoscape/"
# TTF fonts embedded in the PDF reports (reporting/pdf.py): ä ö ü ß € in every viewer
cp node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf node_modules/dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf "$v/dejavu-fonts/"
cp node_modules/dejavu-fonts-ttf/LICENSE "$v/dejavu-fonts/"
cp node_modules/idb/build/umd.js "$v/idb/idb.umd.js"
cp node_modules/idb/LICENSE "$v/idb/"
cp node_modules/leaflet/dist/leaflet.js{,.map} node_modules/leaflet/dist/leaflet.css "$v/leaflet/"
cp -r node_modules/leaflet/dist/images "$v/leaflet/"
cp node_modules/leaflet/LICENSE "$v/leaflet/"
cp node_modules/sortablejs/Sortable.min.js node_modules/sortablejs/LICENSE "$v/sortablejs/"
echo "vendored into $v"
