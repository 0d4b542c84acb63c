// The plotly.js the charts need and no more: its core, which brings the one trace type
// the charts draw (scatter, as SVG). The full plotly.js-dist-min is 4.8 MB minified.
import Plotly from "plotly.js/lib/core";

export default Plotly;
