// The favicon: an envelope drawn on a canvas, with the unread count in a
// badge. It is a data: URL, which the app's CSP allows (img-src 'self' data:).

/**
 * Draws the icon and returns it as a PNG data: URL.
 * @param {number} unread
 * @returns {string}
 */
export function drawFavicon(unread) {
  const c = document.createElement('canvas');
  c.width = 32;
  c.height = 32;
  const g = c.getContext('2d');
  if (!g) return 'data:,';
  g.fillStyle = '#0a66c2';
  g.beginPath();
  g.roundRect(1, 6, 30, 22, 4);
  g.fill();
  g.strokeStyle = '#ffffff';
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(4, 10);
  g.lineTo(16, 19);
  g.lineTo(28, 10);
  g.stroke();
  if (unread > 0) {
    const label = unread > 99 ? '99+' : String(unread);
    g.font = `bold ${label.length > 2 ? 11 : 14}px sans-serif`;
    const w = Math.max(16, g.measureText(label).width + 6);
    g.fillStyle = '#c62828';
    g.beginPath();
    g.roundRect(32 - w, 0, w, 16, 8);
    g.fill();
    g.fillStyle = '#ffffff';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(label, 32 - w / 2, 8.5);
  }
  return c.toDataURL('image/png');
}
